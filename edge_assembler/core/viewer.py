"""From one request to the viewer's context (DESIGN §2: Context).

The master request's query parameters and headers become ``ContextInputs``: the few
facts a session token carries to every child request (DESIGN §2: Session propagation).
``context`` turns inputs into the ``ViewerContext`` the rules read, for any request of
the session. Query parameters (the viewer's player) beat headers; a bad query value is a
``BadRequest("bad_param")``; a bad header value is ignored (a CDN header is not the
viewer's fault).

Query parameters read: ``sid``, ``lang``, ``device``, ``consent``, ``len``, ``last``,
``interests`` and ``choice.<name>``; every other parameter is left alone.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, get_args

import msgspec

from edge_assembler.core.context import Country, Device, LangTag, Pairs, ViewerContext
from edge_assembler.core.errors import BadRequest

# The query parameters this module reads; ``choice.<name>`` is the one open family.
QUERY_PARAMS = frozenset({"sid", "lang", "device", "consent", "len", "last", "interests"})
CHOICE_PREFIX = "choice."
MAX_LANGUAGES = 8
MAX_ITEMS = 16  # consent flags, interests, choices

_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # consent flags, interests, choices, history
_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
Token = Annotated[str, msgspec.Meta(pattern=f"^{_TOKEN.pattern}$")]
SessionId = Annotated[str, msgspec.Meta(pattern=f"^{_SID.pattern}$")]
_LANG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")
# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
# ISO 3166-1 §7.1 user-assigned codes (CDNs use them for "unknown", "Tor", ...).
_USER_ASSIGNED = re.compile(r"AA|Q[M-Z]|X[A-Z]|ZZ")
_DEVICES: Mapping[str, Device] = {name: name for name in get_args(Device)}

# User-Agent families, first match wins: TVs and consoles first (their UAs also name
# Android, Linux/X11 or Windows), then phones, tablets, desktops. iPadOS Safari asks for
# desktop pages with a Macintosh UA and is a desktop here; players may send `device`.
DEVICE_TABLE: tuple[tuple[Device, re.Pattern[str]], ...] = (
    (
        "tv",
        re.compile(
            r"SMART-TV|SmartTV|Tizen|Web0S|webOS|WebOS|Apple ?TV|tvOS|\bAFT[A-Z0-9]|BRAVIA"
            r"|Roku|CrKey|HbbTV|Android TV|GoogleTV|PlayStation|Xbox"
        ),
    ),
    ("phone", re.compile(r"iPhone|iPod|Windows Phone|Android.*Mobile")),
    ("tablet", re.compile(r"iPad|Kindle|Silk/|Android")),
    ("desktop", re.compile(r"Windows NT|Macintosh|X11|CrOS")),
)


class ContextInputs(
    msgspec.Struct, frozen=True, kw_only=True, array_like=True, forbid_unknown_fields=True
):
    """What a session token carries: the session's facts, fixed at its master request."""

    sid: SessionId
    start: Annotated[int, msgspec.Meta(ge=0)]  # unix seconds
    languages: tuple[LangTag, ...] = ()  # preference order, best first
    device: Device = "unknown"
    country: Country | None = None
    consent: tuple[Token, ...] = ()  # sorted
    length: Annotated[float, msgspec.Meta(gt=0)] | None = None  # session length hint (s)
    history: Pairs = ()
    choices: Pairs = ()  # sorted by name
    interests: tuple[Token, ...] = ()
    master: str  # the master playlist / MPD path the session started at


def device_class(user_agent: str | None) -> Device:
    """The device class of a User-Agent, by the families of ``DEVICE_TABLE``."""
    if user_agent:
        for device, pattern in DEVICE_TABLE:
            if pattern.search(user_agent):
                return device
    return "unknown"


def languages(query_lang: str | None, accept_language: str | None) -> tuple[str, ...]:
    """Language preferences, best first: the ``lang`` query parameter (a comma list of
    BCP 47 tags) if given, else ``Accept-Language`` ordered by q-value (RFC 9110
    §12.5.4). Primary subtags are lower-cased, the rest kept as given; duplicates go;
    at most ``MAX_LANGUAGES``."""
    if query_lang:
        tags = _list(query_lang, "lang", _LANG, limit=MAX_LANGUAGES)
        return _distinct_tags(tags)
    if not accept_language:
        return ()
    weighted: list[tuple[float, int, str]] = []
    for index, element in enumerate(accept_language.split(",")):
        tag, *params = (part.strip() for part in element.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                weight = float(value) if _QVALUE.fullmatch(value.strip()) else -1.0
        if weight > 0 and _LANG.fullmatch(tag):
            weighted.append((-weight, index, tag))
    return _distinct_tags(tag for _, _, tag in sorted(weighted))[:MAX_LANGUAGES]


def country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code from the CDN's geo header, upper-cased; ``None`` when
    absent, malformed or user-assigned (e.g. ``XX``, ``T1``)."""
    code = (value or "").strip()
    if not _COUNTRY.fullmatch(code) or _USER_ASSIGNED.fullmatch(code.upper()):
        return None
    return code.upper()


def inputs_from_request(
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    geo_header: str,
    now: datetime,
    new_sid: str,
) -> ContextInputs:
    """The inputs of a session starting at this (master) request; ``new_sid`` is the
    session id when the query carries none. Raises ``BadRequest("bad_param")``."""
    sid = query.get("sid") or new_sid
    if not _SID.fullmatch(sid):
        raise _bad("sid", "must be 1-64 characters of A-Z a-z 0-9 _ -")
    device = query.get("device")
    if device is not None and device not in _DEVICES:
        raise _bad("device", f"must be one of {', '.join(_DEVICES)}")
    last = query.get("last")
    return ContextInputs(
        sid=sid,
        start=_unix(now),
        languages=languages(query.get("lang"), _header(headers, "Accept-Language")),
        device=device_class(_header(headers, "User-Agent")) if device is None else _DEVICES[device],
        country=country(_header(headers, geo_header)),
        consent=tuple(sorted(set(_list(query.get("consent"), "consent", _TOKEN)))),
        length=_length(query.get("len")),
        history=() if last is None else (("last_episode", _token(last, "last")),),
        choices=_choices(query),
        interests=tuple(dict.fromkeys(_list(query.get("interests"), "interests", _TOKEN))),
        master=path,
    )


def context(inputs: ContextInputs, *, path: str, now: datetime) -> ViewerContext:
    """The viewer context of one request of the session ``inputs`` describe."""
    return ViewerContext(
        path=path,
        now=now,
        session_id=inputs.sid,
        session_start=datetime.fromtimestamp(inputs.start, UTC),
        country=inputs.country,
        device=inputs.device,
        languages=inputs.languages,
        consent=inputs.consent,
        session_length_hint=inputs.length,
        history=inputs.history,
        choices=inputs.choices,
        interests=inputs.interests,
    )


def _unix(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its case-insensitive name (RFC 9110 §5.1), from any mapping."""
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest("bad_param", f"query parameter {param!r}: {message}")


def _list(
    value: str | None, param: str, pattern: re.Pattern[str], *, limit: int = MAX_ITEMS
) -> list[str]:
    """A comma list of items matching ``pattern``; empty when the parameter is absent."""
    if not value:
        return []
    items = [item.strip() for item in value.split(",")]
    if len(items) > limit:
        raise _bad(param, f"at most {limit} items")
    for item in items:
        if not pattern.fullmatch(item):
            raise _bad(param, f"malformed item {item[:64]!r}")
    return items


def _distinct_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Primary subtag lower-cased, the rest as given; the first of case-insensitive
    duplicates kept (BCP 47 tags are case-insensitive, RFC 5646 §2.1.1)."""
    seen: dict[str, str] = {}
    for tag in tags:
        primary, sep, rest = tag.partition("-")
        seen.setdefault(tag.lower(), primary.lower() + sep + rest)
    return tuple(seen.values())


def _token(value: str, param: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise _bad(param, "must be 1-64 characters of A-Z a-z 0-9 . _ : -")
    return value


def _length(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise _bad("len", "must be a number of seconds") from None
    if not 0 < seconds < 1e9:
        raise _bad("len", "must be a positive number of seconds")
    return seconds


def _choices(query: Mapping[str, str]) -> Pairs:
    """``choice.<name>=<value>`` parameters, sorted by name."""
    pairs = sorted(
        (_token(name[len(CHOICE_PREFIX) :], name), _token(value, name))
        for name, value in query.items()
        if name.startswith(CHOICE_PREFIX)
    )
    if len(pairs) > MAX_ITEMS:
        raise _bad(CHOICE_PREFIX + "*", f"at most {MAX_ITEMS} choices")
    return tuple(pairs)
