"""Where the checkout is, and the scale and end time of the seeded knowledge graph."""

from datetime import datetime
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
SEED_SCALE = 3_000
SEED_ANCHOR = datetime(2026, 11, 20, 12, 0)
