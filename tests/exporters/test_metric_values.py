"""Every metric of the Thoth set against values computed independently from the seeded rows."""

import psycopg

from tests.support.expected import collect, expected_metrics, mismatches, values
from thoth_monitoring.core.database import psycopg_url
from thoth_monitoring.exporters.knowledge_graph.seed import Dataset


async def test_every_thoth_metric_matches_the_seeded_rows(
    seeded_url: str, dataset: Dataset
) -> None:
    assert mismatches(await collect(seeded_url), dataset) == {}


async def test_database_size_is_at_least_the_size_of_its_tables(seeded_url: str) -> None:
    exporter = await collect(seeded_url)
    with psycopg.connect(psycopg_url(seeded_url)) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchone()
    assert row is not None
    size = values(exporter, "thoth_graphdb_database_size_bytes")[()]
    assert int(row[0]) <= size < 10 * int(row[0]) + 50_000_000


async def test_expected_solver_list_reports_missing_solvers_as_zero_and_counts_mismatch(
    seeded_url: str, dataset: Dataset
) -> None:
    wanted = ["solver-rhel-8-py38", "solver-rhel-9-py311"]
    exporter = await collect(seeded_url, expected_solvers=wanted)
    solved = values(exporter, "thoth_graphdb_solved_python_packages")
    assert set(solved) == {("solver-rhel-8-py38",), ("solver-rhel-9-py311",)}
    assert solved[("solver-rhel-9-py311",)] == 0
    expected = expected_metrics(dataset)["thoth_graphdb_solved_python_packages"]
    assert solved[("solver-rhel-8-py38",)] == expected[("solver-rhel-8-py38",)]
    # 5 seeded solvers are not expected, and 1 expected solver is not in the database.
    assert values(exporter, "thoth_graphdb_solvers_mismatch") == {(): 6}
    assert values(exporter, "thoth_graphdb_solvers_expected") == {(): 2}
    unsolved = values(exporter, "thoth_graphdb_unsolved_python_packages")
    all_candidates = max(
        expected_metrics(dataset)["thoth_graphdb_unsolved_python_packages"].values()
    )
    assert unsolved[("solver-rhel-9-py311",)] >= all_candidates
