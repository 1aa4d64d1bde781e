"""Deterministic synthetic knowledge-graph data, shaped like production and bulk-loaded by COPY.

``build_dataset(scale, anchor)`` returns every row in memory (same scale and anchor, same rows),
so tests can compute expected metric values from the very rows they loaded. ``scale`` is the
number of ``python_package_version`` rows (one per package version and solver environment);
everything else grows with it.
"""

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Table, create_engine
from tqdm import tqdm

from thoth_monitoring.core.database import CONNECT_TIMEOUT_SECONDS, psycopg_url
from thoth_monitoring.exporters.knowledge_graph import models as m

Row = tuple[Any, ...]

INDEXES = (
    # id, url, warehouse_api_url, verify_ssl, enabled, only_if_package_seen
    (1, "https://pypi.org/simple", "https://pypi.org/pypi", True, True, True),
    (2, "https://tensorflow.pypi.thoth-station.ninja/index/manylinux2010/AVX2/simple", None,
     True, True, True),
    (3, "https://download.pytorch.org/whl/cpu", None, True, False, True),
)  # fmt: skip
SOLVERS = (  # os_name, os_version, python_version
    ("rhel", "8", "3.6"),
    ("rhel", "8", "3.8"),
    ("fedora", "32", "3.7"),
    ("fedora", "32", "3.8"),
    ("fedora", "34", "3.9"),
    ("fedora", "35", "3.10"),
)
PI_COMPONENTS = ("tensorflow", "pytorch", "numpy")
SEED_TABLES = (
    m.alembic_version, m.python_package_index, m.ecosystem_solver,
    m.python_package_version_entity, m.python_package_version_entity_rule,
    m.python_package_version_entity_rules_association, m.python_package_version, m.solved,
    m.si_aggregated_run, m.si_aggregated, m.software_environment,
    m.external_software_environment, m.python_software_stack, m.external_python_software_stack,
    m.adviser_run, m.kebechet_github_installations, m.cve, m.cve_timestamp, m.inspection_run,
    m.package_extract_run, *m.PERFORMANCE_INDICATOR_TABLES,
)  # fmt: skip


def solver_name(os_name: str, os_version: str, python_version: str) -> str:
    """Thoth's solver name for an environment: ``solver-rhel-8-py38``."""
    return f"solver-{os_name}-{os_version}-py{python_version.replace('.', '')}"


@dataclass
class Dataset:
    """Rows per table, each in the table's column order."""

    rows: dict[str, list[Row]] = field(default_factory=dict)

    def table(self, table: Table) -> list[Row]:
        return self.rows.setdefault(table.name, [])

    def records(self, table: Table) -> list[dict[str, Any]]:
        """Rows as ``{column: value}`` (for tests computing expected values)."""
        names = [column.name for column in table.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows.get(table.name, [])]

    @property
    def total_rows(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def build_dataset(scale: int, anchor: datetime, seed: int = 2026) -> Dataset:
    """All rows for ``scale`` package versions; timestamps lie before ``anchor``."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    rng = random.Random(seed)
    data = Dataset()
    data.table(m.alembic_version).append((m.ALEMBIC_REVISION,))
    data.table(m.python_package_index).extend(INDEXES)
    data.table(m.ecosystem_solver).extend(
        (i, "python", "thoth-solver", "1.6.2", *env) for i, env in enumerate(SOLVERS, 1)
    )
    _packages(data, scale, anchor, rng)
    _environments_and_stacks(data, scale, rng)
    _advisers_and_kebechet(data, scale, anchor, rng)
    _cves(data, scale, anchor)
    _inspections(data, scale, anchor, rng)
    return data


def _document_id(kind: str, when: datetime, number: int) -> str:
    digest = hashlib.blake2b(f"{kind}{number}".encode(), digest_size=8).hexdigest()
    return f"{kind}-{when:%y%m%d%H%M%S}-{digest}"


def _packages(data: Dataset, scale: int, anchor: datetime, rng: random.Random) -> None:
    """Entities, their solved versions per environment, solver results and SI analyses."""
    entities = data.table(m.python_package_version_entity)
    versions = data.table(m.python_package_version)
    solved = data.table(m.solved)
    rules = data.table(m.python_package_version_entity_rule)
    rule_links = data.table(m.python_package_version_entity_rules_association)
    si_runs = data.table(m.si_aggregated_run)
    si_links = data.table(m.si_aggregated)
    rules.extend(
        (i, f"rule-pkg-{i}", "<1.0", 1, "does not install on this platform") for i in range(1, 6)
    )
    si_filler = (0,) * (len(m.si_aggregated_run.columns) - 4)
    window = timedelta(days=60).total_seconds()
    entity_id = 0
    while len(versions) < scale:
        entity_id += 1
        number = entity_id - 1
        name, version = f"pkg-{number // 8:06d}", f"{number % 8}.{number % 5}.{number // 40 % 10}"
        roll = rng.random()
        if roll < 0.02:
            index_id: int | None = None  # a dependency seen on no index; may be unparseable
        else:
            index_id = 1 if roll < 0.72 else 2 if roll < 0.88 else 3
        package_version = None if rng.random() < 0.01 else version
        entities.append((entity_id, name, package_version, index_id))
        if rng.random() < 0.005:
            rule_links.append((entity_id, rng.randint(1, len(rules))))
        if package_version is None:
            continue
        has_sdist = rng.random() >= 0.08
        mask = 0 if rng.random() < 0.12 else rng.getrandbits(len(SOLVERS))
        first_version_id = None
        for solver_id, (os_name, os_version, python_version) in enumerate(SOLVERS, 1):
            if not mask & (1 << (solver_id - 1)) or len(versions) >= scale:
                continue
            version_id = len(versions) + 1
            first_version_id = first_version_id or version_id
            versions.append((
                version_id, name, package_version, os_name, os_version, python_version,
                entity_id, index_id, None, False, has_sdist, None, None,
            ))  # fmt: skip
            when = anchor - timedelta(seconds=rng.random() * window)
            error_roll = rng.random()
            unparseable = index_id is None
            unsolvable = not unparseable and error_roll < 0.03
            error = unparseable or unsolvable or error_roll < 0.08
            document = _document_id(
                solver_name(os_name, os_version, python_version), when, version_id
            )
            solved.append((when, document, rng.randint(5, 600), error, unparseable, unsolvable,
                           True, solver_id, version_id))  # fmt: skip
            if error and not unparseable and rng.random() < 0.25:  # a later successful re-run
                solved.append((when + timedelta(hours=1), document, 30, False, False, False,
                               True, solver_id, version_id))  # fmt: skip
        if first_version_id is not None and index_id is not None and rng.random() < 0.3:
            run_id = len(si_runs) + 1
            when = anchor - timedelta(seconds=rng.random() * window)
            si_runs.append((run_id, _document_id("security-indicator", when, run_id),
                            *si_filler, when, rng.random() < 0.1))  # fmt: skip
            si_links.append((run_id, entity_id, first_version_id))


def _environments_and_stacks(data: Dataset, scale: int, rng: random.Random) -> None:
    for table, count in ((m.software_environment, 12), (m.external_software_environment, 30)):
        rows = data.table(table)
        for i in range(1, count + 1):
            kind = "RUNTIME" if i % 3 else "BUILDTIME"
            name = None if i % 11 == 0 else f"{'ubi8' if i % 2 else 'fedora'}-env-{i % 9}"
            rows.append((i, name, "3.8", f"quay.io/thoth-station/s2i-{i}", f"sha256:{i:064x}",
                         "rhel", "8", None, kind, None, None, None, None))  # fmt: skip
    stacks = data.table(m.python_software_stack)
    for i in range(1, max(30, scale // 100) + 1):
        kind = rng.choices(m.SOFTWARE_STACK_TYPES, weights=(1, 3, 6))[0]
        stacks.append((i, kind, rng.random(), rng.random(), None, None))
    data.table(m.external_python_software_stack).extend(
        (i, None, None) for i in range(1, max(20, scale // 200) + 1)
    )


def _advisers_and_kebechet(data: Dataset, scale: int, anchor: datetime, rng: random.Random) -> None:
    runs = data.table(m.adviser_run)
    users = [f"https://github.com/org-{i % 37}/repo-{i}" for i in range(max(25, scale // 400))]
    integrations = [t for t in m.SOURCE_TYPES if t != "JUPYTER_NOTEBOOK"]  # one stays at zero
    external_environments = len(data.rows[m.external_software_environment.name])
    for i in range(1, max(60, scale // 200) + 1):
        when = anchor - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        source = None if rng.random() < 0.05 else rng.choice(integrations)
        origin = None if rng.random() < 0.1 else rng.choice(users)
        runs.append((
            i, _document_id("adviser", when, i), when, "0.40.0", "thoth-adviser", 1, 1, origin,
            source, source == "S2I", False, False, None, None, rng.random() < 0.1,
            rng.choice(m.RECOMMENDATION_TYPES), "PIPENV", rng.randint(10, 900), False, False,
            None, rng.randint(1, external_environments), None, None,
        ))  # fmt: skip
    installations = data.table(m.kebechet_github_installations)
    for i in range(1, max(20, scale // 1000) + 1):
        slug = f"org-{i % 7}/repo-{i // 2}"  # two rows (runtime environments) per repository
        flags = [rng.random() < 0.5 for _ in m.KEBECHET_MANAGERS]
        installations.append((
            i, slug, slug.split("/")[1], False, str(1000 + i // 2), rng.random() < 0.8,
            flags[0], anchor - timedelta(hours=i), *flags[1:], None, None, None, f"env-{i % 2}",
        ))  # fmt: skip


def _cves(data: Dataset, scale: int, anchor: datetime) -> None:
    data.table(m.cve).extend(
        (i, f"CVE-2026-{i:05d}", anchor - timedelta(days=i % 300), f"Vulnerability {i}", None)
        for i in range(1, max(30, scale // 500) + 1)
    )
    data.table(m.cve_timestamp).append((1, anchor - timedelta(days=2)))


def _inspections(data: Dataset, scale: int, anchor: datetime, rng: random.Random) -> None:
    inspections = data.table(m.inspection_run)
    count = max(10, scale // 2000)
    for i in range(1, count + 1):
        when = anchor - timedelta(hours=i)
        document = _document_id("inspection", when, i)
        inspections.append((i, document, 0, when, "0.12.0", 1.0, 1.0, 1.0, 1.0, "SYNCED",
                            None, None, 1, 1, None, None))  # fmt: skip
    for table in m.PERFORMANCE_INDICATOR_TABLES:
        rows = data.table(table)
        for i in range(1, max(20, scale // 5000) + 1):
            component = "python" if table is m.pi_pybench else rng.choice(PI_COMPONENTS)
            rows.append(
                _filled(
                    table,
                    component=component,
                    origin="https://github.com/thoth",
                    version="1.0",
                    id=i,
                    inspection_run_id=rng.randint(1, count),
                )
            )
    extracts = data.table(m.package_extract_run)
    for i in range(1, max(10, scale // 1000) + 1):
        when = anchor - timedelta(hours=3 * i)
        extracts.append((i, "package-extract", "1.0.0", _document_id("package-extract", when, i),
                         when, "RUNTIME", None, False, i % 10 == 0, f"quay.io/img:{i}", 60,
                         "rhel", "rhel", "8", 1, None, 10_000_000 + i))  # fmt: skip


def _filled(table: Table, **values: Any) -> Row:
    """A row with the given values and a zero of the right type in every other NOT NULL column."""
    defaults: dict[str, Callable[[], Any]] = {"INTEGER": int, "DOUBLE": float, "VARCHAR": str}
    return tuple(
        values[column.name]
        if column.name in values
        else None
        if column.nullable
        else defaults[str(column.type).split("(")[0]]()
        for column in table.columns
    )


# --- loading ---------------------------------------------------------------------------------


class SeedError(Exception):
    """The target database cannot be seeded as asked (explained in the message)."""


def seed(url: str, scale: int, anchor: datetime, reset: bool = False, progress: bool = True) -> int:
    """Create missing tables, then COPY the dataset in; returns the number of rows loaded."""
    create_schema(url)
    data = build_dataset(scale, anchor)
    with psycopg.connect(psycopg_url(url), connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        busy = [t.name for t in SEED_TABLES if _has_rows(conn, t.name)]
        if busy and not reset:
            raise SeedError(
                f"tables already hold rows: {', '.join(busy)}; pass --reset to empty them first"
            )
        if busy:
            names = ", ".join(t.name for t in SEED_TABLES)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        with tqdm(total=data.total_rows, unit="rows", disable=not progress, desc="seed") as bar:
            for table in SEED_TABLES:
                _copy(conn, table, data.rows.get(table.name, ()), bar.update)
                if "id" in table.columns:
                    conn.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name}), false)",
                        (table.name,),
                    )
        conn.execute("ANALYZE")
    return data.total_rows


def create_schema(url: str) -> None:
    """Create the modelled tables that do not exist yet (existing ones are left untouched)."""
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1),
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    try:
        m.metadata.create_all(engine, checkfirst=True)
    finally:
        engine.dispose()


def _has_rows(conn: psycopg.Connection[Any], table: str) -> bool:
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone() == (True,)


def _copy(
    conn: psycopg.Connection[Any],
    table: Table,
    rows: Sequence[Row] | Iterable[Row],
    advance: Callable[[int], object],
) -> None:
    columns = ", ".join(f'"{column.name}"' for column in table.columns)
    batch = 0
    with conn.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            batch += 1
            if batch == 50_000:
                advance(batch)
                batch = 0
    advance(batch)
