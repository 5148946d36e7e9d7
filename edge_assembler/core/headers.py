"""Header rules of a transparent reverse proxy (RFC 9110 §7.6) and of the edge's own
conditional and compressed manifest responses (RFC 9110 §13, §8.4)."""

from collections.abc import Iterable
from email.utils import parsedate_to_datetime

Headers = list[tuple[str, str]]

# RFC 9110 §7.6.1: connection-specific fields a proxy MUST NOT forward, plus the
# de facto ones (Keep-Alive, Proxy-Connection) that play the same role.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Recomputed by the edge on every forwarded request.
_FORWARDING = frozenset({"host", "via", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})


def end_to_end(headers: Iterable[tuple[str, str]]) -> Headers:
    """Drop hop-by-hop fields, including any the Connection header names."""
    items = list(headers)
    named = {
        token.strip().lower()
        for name, value in items
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(k, v) for k, v in items if k.lower() not in HOP_BY_HOP and k.lower() not in named]


def upstream_request_headers(
    headers: Iterable[tuple[str, str]],
    *,
    client_ip: str | None,
    host: str,
    proto: str,
    via: str,
) -> Headers:
    """The client's end-to-end headers, re-addressed to the origin, with the forwarding
    fields (Via, RFC 9110 §7.6.3; X-Forwarded-*) extended rather than replaced."""
    items = end_to_end(headers)
    out = [(k, v) for k, v in items if k.lower() not in _FORWARDING]
    prior_via = _joined(items, "via")
    out.append(("Via", f"{prior_via}, {via}" if prior_via else via))
    prior_xff = _joined(items, "x-forwarded-for")
    if client_ip:
        out.append(("X-Forwarded-For", f"{prior_xff}, {client_ip}" if prior_xff else client_ip))
    elif prior_xff:
        out.append(("X-Forwarded-For", prior_xff))
    if forwarded_host := _joined(items, "x-forwarded-host") or _joined(items, "host"):
        out.append(("X-Forwarded-Host", forwarded_host))
    out.append(("X-Forwarded-Proto", _joined(items, "x-forwarded-proto") or proto))
    out.append(("Host", host))
    return out


def downstream_response_headers(headers: Iterable[tuple[str, str]], *, via: str) -> Headers:
    """The origin's end-to-end response headers with our Via appended."""
    items = end_to_end(headers)
    out = [(k, v) for k, v in items if k.lower() != "via"]
    prior = _joined(items, "via")
    out.append(("Via", f"{prior}, {via}" if prior else via))
    return out


def _joined(items: Headers, name: str) -> str:
    return ", ".join(v for k, v in items if k.lower() == name)


def not_modified(
    *,
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    last_modified: str | None,
) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) decides when present;
    otherwise If-Modified-Since against Last-Modified."""
    if if_none_match is not None:
        wanted = {tag.strip() for tag in if_none_match.split(",")}
        return "*" in wanted or _weak(etag) in {_weak(tag) for tag in wanted}
    if if_modified_since and last_modified:
        since, modified = _timestamp(if_modified_since), _timestamp(last_modified)
        return since is not None and modified is not None and modified <= since
    return False


def _weak(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def _timestamp(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def accepts_gzip(accept_encoding: str | None) -> bool:
    """RFC 9110 §12.5.3: gzip (or *) listed with a non-zero quality."""
    if not accept_encoding:
        return False
    explicit: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (p.strip() for p in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        explicit.setdefault(coding.lower(), quality)
    for coding in ("gzip", "x-gzip", "*"):
        if coding in explicit:
            return explicit[coding] > 0
    return False
