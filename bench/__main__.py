"""``python -m bench [--quick] [--scenario NAME]... [--out DIR] [--repeat N]``: the latency
benchmark.

Writes ``DIR/report.json``, ``DIR/report.md`` and the PNG plots (``bench.report``); the
processes' logs go to ``DIR/logs``. Exit status 0 when the run completed (targets met or
not: the report says), 2 on a usage error.
"""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import uvloop

from bench.report import write_report
from bench.run import run
from bench.scenarios import FULL, QUICK, SCENARIOS, SPECIAL


def main() -> int:
    names = [s.name for s in SCENARIOS] + list(SPECIAL)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke, < 2 min)")
    parser.add_argument(
        "--scenario", action="append", default=[], choices=names, metavar="NAME",
        help=f"run only these (repeatable): {', '.join(names)}",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench-report"), help="report folder")
    parser.add_argument("--workers", type=int, default=1, help="edge worker processes")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="measure every system N times, in rounds; the report gives the spread",
    )  # fmt: skip
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    settings = replace(QUICK if args.quick else FULL, workers=args.workers, repeats=args.repeat)
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result = uvloop.run(run(settings, args.scenario, logs))
    for path in write_report(args.out, result):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
