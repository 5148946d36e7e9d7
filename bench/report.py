"""The benchmark's output: ``report.json`` (the run as measured), ``report.md`` (tables for
people, the DESIGN.md §6 targets met or not) and PNG plots; and the progress line shown
while a run goes.

Latency figures are milliseconds; open-loop latency counts from each request's intended
start (coordinated-omission corrected), closed-loop latency is wrk's own. Numbers in the
Markdown keep 3 significant digits. matplotlib is imported only when a report is written.
"""

import json
import math
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

_SCENARIO_NAME = re.compile(r"[a-z0-9-]+")
# The percentile axis ticks, HDR histogram style: x = 1 / (1 - p).
_PERCENTILE_TICKS = (50.0, 90.0, 99.0, 99.9, 99.99)
_LINESTYLES = ("-", "--", ":", "-.")
_OPEN_COLUMNS = ("p50", "p90", "p99", "p999", "max")


# How close repeated ramps of one run should come (README "Performance").
REPEAT_TOLERANCE = 0.10


def write_report(out: Path, run: Mapping[str, Any]) -> list[Path]:
    """Write ``report.json``, ``report.md``, ``latency-<scenario>.png`` per scenario with
    open-loop results and ``throughput-latency.png`` into ``out``; return the paths."""
    scenarios: Sequence[Mapping[str, Any]] = run["scenarios"]
    for scenario in scenarios:
        if not _SCENARIO_NAME.fullmatch(scenario["name"]):
            raise ValueError(f"scenario name {scenario['name']!r} is not [a-z0-9-]+")
    out.mkdir(parents=True, exist_ok=True)
    report_json = out / "report.json"
    report_json.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plots = _write_plots(out, scenarios)
    report_md = out / "report.md"
    report_md.write_text(_markdown(run, {p.name for p in plots}), encoding="utf-8")
    return [report_json, report_md, *plots]


class Progress:
    """Progress of ``total`` steps on stderr (or ``stream``): on a terminal one line that
    updates in place, ``[#####.....] 3/12 label (elapsed 1m02s)``; otherwise one line per
    step."""

    def __init__(self, total: int, stream: TextIO | None = None, *, width: int = 20) -> None:
        self._total = max(total, 1)
        self._stream = sys.stderr if stream is None else stream
        self._tty = self._stream.isatty()
        self._width = width
        self._started = time.monotonic()
        self._current = 0

    def step(self, label: str) -> None:
        """Step ``label`` begins (the next of ``total``)."""
        self._current = min(self._current + 1, self._total)
        self._show(self._current - 1, label)

    def done(self) -> None:
        """All steps are finished; a terminal line is ended with a newline."""
        self._current = self._total
        self._show(self._total, "done")
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _show(self, completed: int, label: str) -> None:
        count = f"{self._current}/{self._total}"
        elapsed = _duration(time.monotonic() - self._started)
        if self._tty:
            filled = self._width * completed // self._total
            bar = "#" * filled + "." * (self._width - filled)
            line = f"[{bar}] {count} {label} (elapsed {elapsed})"
            # Cut to the terminal's width: a wrapped line cannot be redrawn with "\r".
            columns = shutil.get_terminal_size().columns
            self._stream.write("\r" + line[: max(columns - 1, 1)] + "\x1b[K")
        else:
            self._stream.write(f"[{count}] {label} (elapsed {elapsed})\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


# Markdown


def _markdown(run: Mapping[str, Any], plots: set[str]) -> str:
    kind = "quick run" if run.get("quick") else "full run"
    lines = [
        "# Edge Assembler benchmark",
        "",
        f"Started {run['started']}, took {num(run['seconds'])} s ({kind}).",
        "",
    ]
    for title in ("machine", "versions", "config"):
        lines += table((title, "value"), ((k, _cell(v)) for k, v in run[title].items()))
        lines.append("")
    lines += _method(run["config"])
    lines += _targets(run["targets"])
    lines += _repeatability(run["scenarios"])
    lines += _machine_changes(run)
    for scenario in run["scenarios"]:
        lines += _scenario(scenario, plots)
    if "throughput-latency.png" in plots:
        lines += [
            "## Throughput and latency",
            "",
            "Open-loop achieved req/s against p99 latency, per scenario and system.",
            "",
            "![throughput vs p99](throughput-latency.png)",
            "",
        ]
    lines += _micro(run["micro"])
    return "\n".join(lines)


def _method(config: Mapping[str, Any]) -> list[str]:
    runs, slices = config["closed_runs"], config["open_slices"]
    return [
        "## Method",
        "",
        "Per scenario, the edge and its baselines take turns at every measurement, so a slow "
        "spell of the machine falls on all of them alike. Each is warmed up for "
        f"{num(config['warmup_seconds'])} s first (the edge's first warm-up of the run: "
        f"{num(config['settle_seconds'])} s). Maximum: the median of "
        f"{runs} closed-loop runs of {num(config['closed_seconds'] / runs)} s per system. "
        f"Latency at each load fraction of it: {slices} open-loop runs of "
        f"{num(config['open_seconds'] / slices)} s per system, in one histogram. After "
        "every run the CPUs go idle before the next one, so that no system's backlog runs "
        "into the next one's measurement.",
        "",
    ]


def _targets(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = (
        (t["what"], t["target"], t["measured"], "met" if t["met"] else "**MISSED**")
        for t in targets
    )
    met = sum(1 for t in targets if t["met"])
    return [
        "## Targets (DESIGN.md §6)",
        "",
        f"{met} of {len(targets)} met.",
        "",
        *table(("what", "target", "measured", "met"), rows),
        "",
    ]


def _repeatability(scenarios: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each repeated system's maximum and half-load latencies, ramp by ramp, with their
    spread: (largest - smallest) / median."""
    rows = []
    spreads = []
    for scenario in scenarios:
        for name, system in scenario["systems"].items():
            repeats, spread = system.get("repeats"), system.get("spread")
            if not repeats or not spread:
                continue
            cells = [
                scenario["name"],
                name,
                " / ".join(num(float(r["rps"])) for r in repeats),
                percent(spread["max_rps"]),
            ]
            i = half_index(float(repeats[0]["rps"]), repeats[0]["open"])
            if i is not None:
                cells += [
                    " / ".join(num(float(r["open"][i]["p50"])) for r in repeats),
                    percent(spread["p50@0.5"]),
                    percent(spread["p99@0.5"]),
                ]
                spreads.append(spread["p50@0.5"])
            else:
                cells += ["-", "-", "-"]
            spreads.append(spread["max_rps"])
            rows.append(cells)
    if not rows:
        return []
    header = (
        "scenario", "system", "max req/s, each ramp", "spread",
        "p50 ms at 50 %, each ramp", "spread", "p99 spread at 50 %",
    )  # fmt: skip
    within = sum(1 for x in spreads if x <= REPEAT_TOLERANCE)
    return [
        "## Repeatability",
        "",
        "Every system ramped several times in this run, in rounds. Spread: (largest - "
        f"smallest) / median. {within} of {len(spreads)} maximum and median figures are "
        f"within {REPEAT_TOLERANCE:.0%}.",
        "",
        *table(header, rows),
        "",
    ]


def _machine_changes(run: Mapping[str, Any]) -> list[str]:
    """The scenarios that started with the CPU probe more than ``REPEAT_TOLERANCE`` off its
    reading before the load: their absolute figures are not comparable with other runs'."""
    start = start_probe(run)
    if not start:
        return []
    rows = [
        (s["name"], num(s["cpu_probe_ms"]), f"{100 * (s['cpu_probe_ms'] / start - 1):+.1f} %")
        for s in run["scenarios"]
        if s.get("cpu_probe_ms") and abs(s["cpu_probe_ms"] / start - 1) > REPEAT_TOLERANCE
    ]
    if not rows:
        return []
    return [
        "## Machine speed changed",
        "",
        f"The CPU probe (a fixed loop) took {num(start)} ms before the load, and more than "
        f"{REPEAT_TOLERANCE:.0%} longer or shorter as these scenarios started. The machine's "
        "speed changed during the run, so their absolute figures do not compare with other "
        "runs'; their ratios to the baselines measured beside them still do "
        "(`python -m bench --compare`).",
        "",
        *table(("scenario", "CPU probe ms", "against the start"), rows),
        "",
    ]


def start_probe(run: Mapping[str, Any]) -> float | None:
    """The CPU probe's median before the run's load (ms), if the run has one."""
    median = (run.get("machine", {}).get("cpu_steadiness") or {}).get("median_ms")
    return float(median) if median else None


def difference(a: float, b: float) -> float:
    """How far two figures lie apart: |a - b| / mean(a, b), as a fraction (0 for two 0s)."""
    mean = (a + b) / 2
    return abs(a - b) / mean if mean else 0.0


def half_index(max_rps: float, opens: Sequence[Mapping[str, Any]]) -> int | None:
    """Which of a ramp's open-loop runs is at half its maximum throughput, if any."""
    return next(
        (i for i, o in enumerate(opens) if abs(float(o["target_rps"]) / max_rps - 0.5) < 0.01),
        None,
    )


def percent(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"


def _scenario(scenario: Mapping[str, Any], plots: set[str]) -> list[str]:
    name = scenario["name"]
    systems: Mapping[str, Mapping[str, Any]] = scenario["systems"]
    edge = systems.get("edge", {}).get("closed")
    rows: list[tuple[str, ...]] = []
    for system, result in systems.items():
        closed = result.get("closed")
        if closed is None:
            max_rps = ratio = "-"
        else:
            max_rps = num(closed["rps"])
            if closed["errors"]:
                max_rps += f" ({closed['errors']:,} errors)"
            ratio = _ratio(edge["rps"], closed["rps"]) if edge else "-"
        opens: Sequence[Mapping[str, Any]] = result.get("open") or []
        if not opens:
            rows.append((system, max_rps, ratio, *("-",) * 9))
        for i, o in enumerate(opens):
            latency = o["latency"]
            rows.append(
                (
                    system,
                    max_rps if i == 0 else "",
                    ratio if i == 0 else "",
                    num(o["target_rps"]),
                    num(o["achieved_rps"]),
                    *(num(latency[k]) for k in _OPEN_COLUMNS),
                    f"{o['errors']:,}",
                    f"{o['late_sends']:,}",
                )
            )
    header = (
        "system",
        "max req/s (closed loop)",
        "edge ÷ system",
        "target req/s",
        "achieved req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "late sends",
    )
    lines = [f"## {name}", ""]
    if scenario.get("description"):
        lines += [scenario["description"], ""]
    if "url_count" in scenario:
        lines += [f"Distinct URLs requested: {scenario['url_count']:,}.", ""]
    if scenario.get("cpu_probe_ms"):
        lines += [f"CPU probe as the scenario started: {num(scenario['cpu_probe_ms'])} ms.", ""]
    lines += [
        *table(header, rows),
        "",
        "Max req/s: closed loop (wrk); edge ÷ system: the edge's max req/s over that system's. "
        "Open loop at fixed arrival rates, latency from each request's intended start "
        "(coordinated omission corrected); late sends: requests the load generator itself "
        "sent more than 1 ms late.",
        "",
    ]
    notes: Sequence[str] = scenario.get("notes") or []
    if notes:
        lines += [*(f"- {note}" for note in notes), ""]
    metrics: Mapping[str, Any] = scenario.get("metrics") or {}
    if metrics:
        lines += [*table(("metric", "value"), ((k, _cell(v)) for k, v in metrics.items())), ""]
    if f"latency-{name}.png" in plots:
        lines += [f"![{name} latency by percentile](latency-{name}.png)", ""]
    return lines


def _micro(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cells: list[tuple[str, ...]] = []
    for row in rows:
        us: float = row["us"]
        baseline: float | None = row.get("baseline_us")
        target: float | None = row.get("target_us")
        cells.append(
            (
                row["suite"],
                row["scenario"],
                row["step"],
                num(us),
                _ratio(baseline, us) if baseline else "-",
                f"≤ {num(target)}" if target else "-",
                ("met" if us <= target else "**MISSED**") if target else "-",
            )
        )
    header = ("suite", "scenario", "step", "µs", "x faster than baseline", "target µs", "met")
    return ["## Micro benchmarks (pure core)", "", *table(header, cells), ""]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def num(x: float) -> str:
    """``x`` to 3 significant digits; thousands grouped (12,300), no exponent above 1."""
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) < 1000:
        return str(x)
    if not math.isfinite(x):
        return str(x)
    rounded = float(f"{x:.3g}")
    if abs(rounded) >= 1000:
        return f"{rounded:,.0f}"
    return f"{x:.3g}"


def _ratio(a: float, b: float) -> str:
    return f"{num(a / b)}x" if b else "-"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return num(value)
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return str(value)


# Plots


def _write_plots(out: Path, scenarios: Sequence[Mapping[str, Any]]) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def save(fig: Figure, name: str) -> Path:
        # Figures made without pyplot are not registered anywhere: nothing to close.
        FigureCanvasAgg(fig)
        path = out / name
        fig.savefig(path, dpi=110)
        return path

    paths: list[Path] = []
    for scenario in scenarios:
        fig = Figure(figsize=(9, 5.5), layout="constrained")
        if _latency_plot(fig.add_subplot(), scenario):
            paths.append(save(fig, f"latency-{scenario['name']}.png"))
    with_open = [s for s in scenarios if any(r.get("open") for r in s["systems"].values())]
    if with_open:
        cols = min(2, len(with_open))
        rows = math.ceil(len(with_open) / cols)
        fig = Figure(figsize=(6 * cols, 4.2 * rows), layout="constrained")
        axes = list(fig.subplots(rows, cols, squeeze=False).flat)
        for ax, scenario in zip(axes, with_open, strict=False):
            _throughput_plot(ax, scenario)
        for ax in axes[len(with_open) :]:
            ax.set_visible(False)
        paths.append(save(fig, "throughput-latency.png"))
    return paths


def _latency_plot(ax: "Axes", scenario: Mapping[str, Any]) -> bool:
    """Percentile curves, one line per system (colour) and rate (line style); False when
    the scenario has no open-loop histogram to draw."""
    from matplotlib.ticker import NullLocator

    drawn = False
    top = 1 / (1 - _PERCENTILE_TICKS[-1] / 100)
    for colour, (system, result) in enumerate(scenario["systems"].items()):
        for i, o in enumerate(result.get("open") or []):
            points = [(p, ms) for p, ms in o["histogram"] if p < 100 and ms > 0]
            if not points:
                continue
            xs = [1 / (1 - p / 100) for p, _ in points]
            top = max(top, *xs)
            ax.plot(
                xs,
                [ms for _, ms in points],
                color=f"C{colour % 10}",
                linestyle=_LINESTYLES[i % len(_LINESTYLES)],
                label=f"{system} @ {num(o['target_rps'])} req/s",
            )
            drawn = True
    if not drawn:
        return False
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1, top)
    ax.set_xticks(
        [1 / (1 - p / 100) for p in _PERCENTILE_TICKS], [f"{p:g}" for p in _PERCENTILE_TICKS]
    )
    ax.xaxis.set_minor_locator(NullLocator())
    _plain_log_labels(ax.yaxis)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{scenario['name']}: latency by percentile (open loop, CO corrected)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return True


def _throughput_plot(ax: "Axes", scenario: Mapping[str, Any]) -> None:
    """Achieved req/s against p99, points connected, one line per system."""
    for colour, (system, result) in enumerate(scenario["systems"].items()):
        opens = sorted(result.get("open") or [], key=lambda o: o["achieved_rps"])
        points = [(o["achieved_rps"], o["latency"]["p99"]) for o in opens]
        points = [(x, y) for x, y in points if x > 0 and y > 0]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", color=f"C{colour % 10}", label=system)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_labels(ax.xaxis)
    _plain_log_labels(ax.yaxis)
    ax.set_xlabel("achieved req/s")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title(scenario["name"])
    ax.grid(True, which="major", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)


def _plain_log_labels(axis: "Axis") -> None:
    """Label a log axis 0.5, 2, 30 rather than 5 x 10^-1."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter())
