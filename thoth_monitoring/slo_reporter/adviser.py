"""The report's Ceph section: the week's adviser runs, from the adviser's result documents
(read by ``analytics.documents``, the one reader of their key layout and fields)."""

from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd

from thoth_monitoring.analytics.documents import read_adviser_documents
from thoth_monitoring.core.s3 import S3Settings

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
    documents = read_adviser_documents(settings, start, end, workers)
    rows = [
        {
            **asdict(run),
            "datetime": run.created_at,
            "error_msg": run.error_message,
        }
        for run in documents.runs
    ]
    runs = pd.DataFrame(rows, columns=COLUMNS)
    return AdviserRuns(runs, tuple(item.key for item in documents.unreadable))


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
