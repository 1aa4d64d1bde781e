"""The report's Ceph section: the week's adviser runs, from the adviser's result documents.

Documents live at ``<prefix>/<deployment>/adviser/adviser-<YYMMDDhhmmss>-<hex>``; the id embeds
the creation time, so the week's documents are one key range, listed with ``StartAfter`` and
read until the first key past the week (``.request`` objects beside them are skipped). The fields
read are those Thoth's graph sync reads (see ``exporters/knowledge_graph/documents.py``):
``metadata.document_id``, ``metadata.datetime``, ``metadata.arguments["thoth-adviser"].metadata
.source_type`` (the integration), ``result.error``, ``result.error_msg`` and
``result.parameters.recommendation_type``. A document that is not valid JSON or lacks these is
counted as unreadable with its key, never guessed.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from thoth_monitoring.core.s3 import S3Settings, list_pages, make_client

_DOCUMENT = re.compile(r"^adviser-\d{12}-[0-9a-zA-Z]+$")
COLUMNS = ["document_id", "datetime", "integration", "error", "error_msg", "recommendation_type"]


@dataclass(frozen=True)
class AdviserRuns:
    """The week's runs (one row per readable document) and the keys that could not be read."""

    runs: pd.DataFrame
    unreadable: tuple[str, ...] = ()


def read_adviser_runs(
    settings: S3Settings, start: datetime, end: datetime, workers: int = 8
) -> AdviserRuns:
    """Documents created in [start, end) (times in UTC)."""
    client = make_client(settings)
    folder = settings.folder("adviser")
    first, stop = (folder + f"adviser-{when:%y%m%d%H%M%S}" for when in (start, end))
    keys: list[str] = []
    for page in list_pages(client, settings.bucket, folder + "adviser-", first):
        names = [item["Key"] for item in page]
        keys.extend(key for key in names if key < stop and _DOCUMENT.match(key[len(folder) :]))
        if names and names[-1] >= stop:
            break

    def read(key: str) -> dict[str, Any] | str:
        body = client.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
        try:
            return _run(json.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError):
            return key

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(read, keys))
    rows = [result for result in results if isinstance(result, dict)]
    unreadable = tuple(result for result in results if isinstance(result, str))
    return AdviserRuns(pd.DataFrame(rows, columns=COLUMNS), unreadable)


def _run(document: dict[str, Any]) -> dict[str, Any]:
    metadata, result = document["metadata"], document["result"]
    arguments = (metadata.get("arguments") or {}).get("thoth-adviser") or {}
    error = result["error"]
    if not isinstance(error, bool):
        raise TypeError("result.error is not a boolean")
    return {
        "document_id": metadata["document_id"],
        "datetime": datetime.fromisoformat(metadata["datetime"].replace("Z", "+00:00")),
        "integration": (arguments.get("metadata") or {}).get("source_type") or "unknown",
        "error": error,
        "error_msg": (result.get("error_msg") or "(no message)") if error else None,
        "recommendation_type": result["parameters"]["recommendation_type"].upper(),
    }


def by_integration(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs, errors and error ratio per integration, most runs first."""
    if runs.empty:
        return pd.DataFrame(columns=["integration", "runs", "errors", "error_ratio"])
    table = runs.groupby("integration")["error"].agg(runs="count", errors="sum").reset_index()
    table["errors"] = table["errors"].astype(int)
    table["error_ratio"] = table["errors"] / table["runs"]
    return table.sort_values(["runs", "integration"], ascending=[False, True], ignore_index=True)


def top_errors(runs: pd.DataFrame, limit: int = 5) -> pd.DataFrame:
    """The most frequent error messages with their counts."""
    messages = runs.loc[runs["error"].astype(bool), "error_msg"]
    counts = messages.value_counts()
    table = pd.DataFrame({"message": counts.index, "runs": counts.to_numpy()})
    return table.sort_values(["runs", "message"], ascending=[False, True]).head(limit)


def recommendation_types(runs: pd.DataFrame) -> pd.DataFrame:
    counts = runs["recommendation_type"].value_counts()
    table = pd.DataFrame({"recommendation_type": counts.index, "runs": counts.to_numpy()})
    return table.sort_values(["runs", "recommendation_type"], ascending=[False, True])
