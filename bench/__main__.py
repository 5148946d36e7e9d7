"""``python -m bench [--quick] [--scenario NAME]... [--out DIR] [--repeat N]``: the latency
benchmark; ``python -m bench --compare A B``: two runs' reports side by side;
``python -m bench --machine-check MINUTES [--out DIR]``: how steady the machine is.

A run writes ``DIR/report.json``, ``DIR/report.md`` and the PNG plots (``bench.report``);
the processes' logs go to ``DIR/logs``. A comparison prints Markdown (``bench.compare``); a
machine check prints it and writes ``DIR/machine-check.json`` and ``.md`` (``bench.machine``).
Exit status 0 when the run, comparison or check completed (targets met or not: the report
says), 2 on a usage error or a report that cannot be read.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import uvloop

from bench import compare, machine
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
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("A", "B"),
        help="print how far two runs' medians lie apart (report folders or report.json)",
    )  # fmt: skip
    parser.add_argument(
        "--machine-check", type=float, metavar="MINUTES",
        help="measure how steady this machine is, with nginx alone, for MINUTES",
    )  # fmt: skip
    args = parser.parse_args()
    if args.machine_check is not None:
        if args.machine_check <= 0:
            parser.error("--machine-check needs a number of minutes above 0")
        check = uvloop.run(machine.machine_check(60 * args.machine_check))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "machine-check.json").write_text(
            json.dumps(check, indent=2) + "\n", encoding="utf-8"
        )
        text = machine.markdown(check)
        (args.out / "machine-check.md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    if args.compare:
        try:
            runs = [compare.load(path) for path in args.compare]
        except (OSError, ValueError) as e:
            parser.error(f"--compare: {e}")
        print(compare.markdown(runs[0], runs[1], (str(args.compare[0]), str(args.compare[1]))))
        return 0
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
