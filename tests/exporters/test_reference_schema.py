"""The exporter against the real Thoth schema (thoth-storages migrations at alembic head
bf9ea2a38b01): our models must match it table by table, and the whole metric set must run on
a database created from it.

The schema dump is reference material that is not part of this repository; the test reads it
from ``THOTH_REFERENCE_SCHEMA`` or from ``../shared/reference/`` beside the checkout.
"""

import os
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from tests.support.expected import collect, mismatches
from tests.support.repository import REPOSITORY, SEED_ANCHOR, SEED_SCALE
from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.exporters.knowledge_graph import models
from thoth_monitoring.exporters.knowledge_graph.seed import Dataset, seed

SCHEMA = Path(
    os.environ.get(
        "THOTH_REFERENCE_SCHEMA",
        REPOSITORY.parent / "shared" / "reference" / "thoth-knowledge-graph-schema.sql",
    )
)
pytestmark = pytest.mark.skipif(not SCHEMA.exists(), reason=f"reference schema not at {SCHEMA}")


@pytest.fixture(scope="module")
def reference_url(make_database: Callable[[], str]) -> str:
    url = make_database()
    # psql meta-commands (\restrict) are not SQL; everything else runs as one script.
    script = "\n".join(
        line for line in SCHEMA.read_text().splitlines() if not line.startswith("\\")
    )
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute(script)
    return url


def test_models_match_the_reference_schema(reference_url: str) -> None:
    engine = create_engine(reference_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        reflected = inspect(engine)
        problems = []
        for table in models.metadata.sorted_tables:
            actual = {c["name"]: c for c in reflected.get_columns(table.name)}
            ours = {c.name: c for c in table.columns}
            if list(actual) != list(ours):
                problems.append(f"{table.name}: columns {list(ours)} != {list(actual)}")
                continue
            for name, column in ours.items():
                theirs = actual[name]
                our_type = column.type.compile(engine.dialect)
                their_type = theirs["type"].compile(engine.dialect)
                if our_type != their_type or column.nullable != theirs["nullable"]:
                    problems.append(
                        f"{table.name}.{name}: {our_type} nullable={column.nullable} != "
                        f"{their_type} nullable={theirs['nullable']}"
                    )
    finally:
        engine.dispose()
    assert problems == []


async def test_metric_set_runs_on_the_reference_schema(
    reference_url: str, dataset: Dataset
) -> None:
    seed(reference_url, SEED_SCALE, SEED_ANCHOR, progress=False)
    assert mismatches(await collect(reference_url), dataset) == {}
