"""Where the checkout is, a copy of its sources to build from, and the scale and end time of
the seeded knowledge graph."""

import shutil
from datetime import datetime
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
# What a build leaves behind or what the wheel never holds: not copied.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "demo-out",
    ".thoth-monitoring", "docs", "bench",
)  # fmt: skip
SEED_SCALE = 3_000
SEED_ANCHOR = datetime(2026, 11, 20, 12, 0)


def copy_sources(target: Path) -> Path:
    """A copy of the checkout to build a wheel from: a build writes into its source folder."""
    shutil.copytree(REPOSITORY, target, ignore=NOT_SOURCES)
    return target
