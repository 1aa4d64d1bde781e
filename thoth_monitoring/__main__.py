"""``python -m thoth_monitoring``: the same as the ``thoth-monitoring`` command."""

import sys

from thoth_monitoring.cli import main

sys.exit(main())
