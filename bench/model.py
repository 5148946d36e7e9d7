"""Results of the load tools; each becomes JSON with `dataclasses.asdict`."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Latency percentiles in milliseconds."""

    p50: float
    p90: float
    p99: float
    p999: float
    max: float


@dataclass(frozen=True, slots=True)
class ClosedLoop:
    """The maximum sustainable throughput (wrk)."""

    rps: float  # requests per second over the run
    requests: int
    errors: int  # socket errors + non-2xx/3xx
    connections: int
    seconds: float
    latency: Percentiles  # wrk's own (closed loop: not coordinated-omission corrected)


@dataclass(frozen=True, slots=True)
class OpenLoop:
    """Latency at a fixed arrival rate, coordinated-omission corrected."""

    target_rps: float
    achieved_rps: float  # requests completed / seconds
    requests: int
    errors: int
    seconds: float
    latency: Percentiles  # from each request's *intended* start time
    histogram: list[tuple[float, float]]  # (percentile 0..100, latency ms) for plots
    late_sends: int  # requests the generator itself sent > 1 ms after their intended time
