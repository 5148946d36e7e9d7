"""How long a shared cache may keep an origin response (RFC 9111), and how long past that
it may still serve it when the origin fails (RFC 5861 ``stale-if-error``).

Everything here works on header values and durations; the caller owns the clock.
"""

from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class Directives:
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    max_age: int | None = None
    s_maxage: int | None = None
    stale_if_error: int | None = None


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """The edge's defaults for responses whose headers leave a choice."""

    default_ttl: float
    error_ttl: float
    stale_if_error: float
    max_stale_if_error: float


@dataclass(frozen=True, slots=True)
class Freshness:
    """``store``: keep it at all; ``ttl``: seconds fresh from now; ``stale_if_error``: extra
    seconds it may be served when the origin fails after that."""

    store: bool
    ttl: float
    stale_if_error: float


# RFC 9111 §3 and §4.2.2: codes cacheable by default (heuristically), of which the edge
# caches the error ones (404, 410, ...) only for ``error_ttl`` unless told otherwise.
_OK_CODES = frozenset({200, 203})
_ERROR_CODES = frozenset({204, 300, 301, 308, 404, 405, 410, 414, 501})


def parse_cache_control(value: str | None) -> Directives:
    """Parse a Cache-Control header (RFC 9111 §5.2); unknown directives are ignored."""
    if not value:
        return Directives()
    flags: dict[str, bool] = {}
    numbers: dict[str, int] = {}
    for part in value.split(","):
        name, has_arg, arg = part.strip().partition("=")
        name = name.strip().lower()
        if not name:
            continue
        if has_arg:
            seconds = _delta_seconds(arg)
            # §4.2.1: a cache MUST use the first of duplicated or invalid directives
            # conservatively; an unparseable delta counts as zero.
            numbers.setdefault(name, 0 if seconds is None else seconds)
        else:
            flags[name] = True
    return Directives(
        no_store=flags.get("no-store", False),
        no_cache=flags.get("no-cache", False) or "no-cache" in numbers,
        private=flags.get("private", False) or "private" in numbers,
        must_revalidate=flags.get("must-revalidate", False),
        proxy_revalidate=flags.get("proxy-revalidate", False),
        max_age=numbers.get("max-age"),
        s_maxage=numbers.get("s-maxage"),
        stale_if_error=numbers.get("stale-if-error"),
    )


def _delta_seconds(arg: str) -> int | None:
    text = arg.strip().strip('"')
    if not text or not all("0" <= c <= "9" for c in text):  # §1.2.2: ASCII digits only
        return None
    if len(text) > 10:
        return 2**31  # §1.2.2: saturate values too large to represent
    return min(int(text), 2**31)


def freshness(
    status: int,
    cache_control: str | None,
    policy: CachePolicy,
    *,
    expires: str | None = None,
    date: str | None = None,
    age: str | None = None,
) -> Freshness:
    """Decide storage, freshness lifetime and stale-if-error window for one response."""
    cc = parse_cache_control(cache_control)
    # §5.2.2.7 private: a shared cache MUST NOT store it; §5.2.2.5 no-store likewise.
    if cc.no_store or cc.private or status >= 500:
        return Freshness(store=False, ttl=0.0, stale_if_error=0.0)
    lifetime = _lifetime(cc, expires, date)
    if lifetime is None:
        if status in _OK_CODES:
            lifetime = policy.default_ttl
        elif status in _ERROR_CODES:
            lifetime = policy.error_ttl
        else:
            return Freshness(store=False, ttl=0.0, stale_if_error=0.0)
    if cc.no_cache:  # §5.2.2.4: store, but revalidate before every reuse
        lifetime = 0.0
    ttl = max(0.0, lifetime - _age_seconds(age))
    return Freshness(store=True, ttl=ttl, stale_if_error=_stale_window(cc, policy))


def _lifetime(cc: Directives, expires: str | None, date: str | None) -> float | None:
    # §4.2.1: s-maxage, then max-age, then Expires - Date.
    if cc.s_maxage is not None:
        return float(cc.s_maxage)
    if cc.max_age is not None:
        return float(cc.max_age)
    if expires is None:
        return None
    expires_at = _http_date(expires)
    date_at = _http_date(date) if date else None
    if expires_at is None or date_at is None:
        return 0.0  # §5.3: an invalid Expires means "already expired"
    return max(0.0, expires_at - date_at)


def _stale_window(cc: Directives, policy: CachePolicy) -> float:
    if cc.stale_if_error is not None:  # RFC 5861 §4: explicit permission, capped by us
        return min(float(cc.stale_if_error), policy.max_stale_if_error)
    # RFC 9111 §4.2.4: no stale responses when the origin forbids them.
    if cc.no_cache or cc.must_revalidate or cc.proxy_revalidate or cc.s_maxage is not None:
        return 0.0
    return policy.stale_if_error


def _age_seconds(age: str | None) -> float:
    if age is None:
        return 0.0
    seconds = _delta_seconds(age)
    return float(seconds) if seconds is not None else 0.0


def _http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
