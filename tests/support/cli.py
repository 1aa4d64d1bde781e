"""``thoth-monitoring``: ``run`` calls in this process the ``main`` the console script calls
(a process per call would add start-up time and nothing else); ``COMMAND`` is the installed
console script, for the tests where the process itself matters (serving, signals)."""

import io
import logging
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from thoth_monitoring.cli import main

COMMAND = str(Path(sys.executable).with_name("thoth-monitoring"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit:  # argparse: --help, usage errors
                code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess([COMMAND, *args], code, out.getvalue(), err.getvalue())
