"""``python -m bench.faults``: every fault scenario in its full version, one row each (name |
inputs tried | outcome | PASS/FAIL) and a summary table, written to bench/results/faults.json.
Exit status 1 if any row failed."""

import argparse
import logging
import os
import sys
import tempfile
import time

from bench.common import print_table, write_result
from bench.faults import Row, scenarios


def main(argv: list[str] | None = None) -> int:
    available = scenarios()
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="SCENARIO",
                        help=f"run only these ({', '.join(available)})")  # fmt: skip
    parser.add_argument("--short", action="store_true", help="the short version (as the tests)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in available]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(available)}")
    handle, log = tempfile.mkstemp(prefix="thoth-faults-", suffix=".log")
    os.close(handle)
    logging.basicConfig(filename=log, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")  # fmt: skip
    print(f"logs of the components under attack: {log}")
    rows: list[Row] = []
    seconds: list[float] = []
    for name in args.names or available:
        print(f"running {name} ...", flush=True)
        started = time.monotonic()
        row = available[name]("short" if args.short else "full")
        seconds.append(time.monotonic() - started)
        print(f"  {row} ({seconds[-1]:.1f}s)", flush=True)
        rows.append(row)
    print_table(
        f"fault and fuzz suite ({'short' if args.short else 'full'}; outcomes above)",
        ["scenario", "inputs tried", "result", "seconds"],
        [[r.name, r.inputs, "PASS" if r.passed else "FAIL", s]
         for r, s in zip(rows, seconds, strict=True)],
    )  # fmt: skip
    if not args.names and not args.short:
        timed = zip(rows, seconds, strict=True)
        result = {"rows": [vars(row) | {"seconds": s} for row, s in timed]}
        print(f"\nwritten to {write_result('faults', result)}")
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
