"""Node configuration: a TOML file decoded into typed Structs, then overridden by the
environment and by command-line flags (in that order of precedence, lowest first).

Every error names the field it is about, as ``$.origins[0].url: <what is wrong>``.
Environment overrides use ``EDGE_ASSEMBLER__<SECTION>__<FIELD>=<TOML value>``
(e.g. ``EDGE_ASSEMBLER__TIMEOUTS__CONNECT=0.5``); ``EDGE_ASSEMBLER_ORIGIN`` and
``EDGE_ASSEMBLER_LISTEN`` (comma-separated) are shorthands for the common cases.
"""

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from edge_assembler.core.edits.uris import ParamName
from edge_assembler.core.freshness import CachePolicy
from edge_assembler.core.routing import OriginRoute
from edge_assembler.core.viewer import CHOICE_PREFIX, QUERY_PARAMS

Seconds = Annotated[float, msgspec.Meta(gt=0)]
NonNegSeconds = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]
HeaderName = Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]

ENV_PREFIX = "EDGE_ASSEMBLER__"
_FIELD_MARK = "\x1f"
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
MIN_SECRET_BYTES = 32
_TOKEN = re.compile(rf"[A-Za-z0-9._~+/-]{{{MIN_SECRET_BYTES},}}")
_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})$")


class ConfigError(Exception):
    """A configuration problem; ``str()`` starts with the offending field's path."""


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Origin(Base, frozen=True):
    """An origin packager, serving every request path under ``prefix``."""

    url: str
    prefix: str = "/"
    strip_prefix: bool = False
    max_connections: Count = 256

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _field("url", f"must be an http(s) URL with a host, got {self.url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise _field("url", "must not carry a query, fragment or credentials")
        if not self.prefix.startswith("/"):
            raise _field("prefix", f"must start with '/', got {self.prefix!r}")


class Timeouts(Base, frozen=True):
    """Seconds. ``total`` bounds a whole manifest fetch; ``idle`` bounds the gap between
    two chunks of a streamed (segment) body."""

    connect: Seconds = 2.0
    first_byte: Seconds = 5.0
    total: Seconds = 10.0
    idle: Seconds = 30.0


class Cache(Base, frozen=True):
    """The origin manifest cache. TTLs apply when the origin's headers leave a choice."""

    max_entries: Count = 20_000
    max_bytes: Count = 256 * 1024 * 1024
    default_ttl: NonNegSeconds = 1.0
    error_ttl: NonNegSeconds = 1.0
    stale_if_error: NonNegSeconds = 30.0
    max_stale_if_error: NonNegSeconds = 300.0
    learned_manifests: Count = 10_000

    def policy(self) -> CachePolicy:
        return CachePolicy(
            default_ttl=self.default_ttl,
            error_ttl=self.error_ttl,
            stale_if_error=self.stale_if_error,
            max_stale_if_error=self.max_stale_if_error,
        )


class Cors(Base, frozen=True):
    enabled: bool = True
    allow_origins: tuple[str, ...] = ("*",)
    allow_methods: tuple[str, ...] = ("GET", "HEAD", "OPTIONS")
    allow_headers: tuple[HeaderName, ...] = (
        "Range",
        "If-None-Match",
        "If-Modified-Since",
        "Accept",
        "Accept-Language",
        "Content-Type",
    )
    expose_headers: tuple[HeaderName, ...] = (
        "Content-Length",
        "Content-Range",
        "Accept-Ranges",
        "ETag",
        "Age",
        "Date",
        "X-Cache",
        "X-Rules-Revision",
        "X-Edge-Decision",
    )
    allow_credentials: bool = False
    max_age: Annotated[int, msgspec.Meta(ge=0)] = 86_400

    def __post_init__(self) -> None:
        if self.allow_credentials and "*" in self.allow_origins:
            raise _field("allow_credentials", "cannot be combined with allow_origins '*'")


class Log(Base, frozen=True):
    format: Literal["json", "text"] = "json"
    access_log: bool = True
    level: Literal["debug", "info", "warning", "error"] = "info"


class Bundles(Base, frozen=True):
    """Signed rule bundles (BUNDLES §4.6-4.9). Off while ``sources`` is empty.

    ``sources`` are local files or directories (watched) and http(s) URLs (polled); all of
    them feed one activation pipeline. Durations are seconds; byte caps apply to what
    arrives before verification (BUNDLES §4.5 step 1)."""

    sources: tuple[str, ...] = ()
    trust: str = ""
    state_dir: str = "/var/lib/edge-assembler"
    names: tuple[str, ...] = ("*",)
    scope: dict[str, str] = {}
    min_revision: Annotated[int, msgspec.Meta(ge=0)] = 0
    allow_start_without_bundle: bool = False
    stale_policy: Literal["serve", "passthrough", "fail"] = "serve"
    max_stale: NonNegSeconds = 86_400.0
    poll_min: Seconds = 10.0
    poll_max: Seconds = 20.0
    backoff_max: Seconds = 300.0
    connect_timeout: Seconds = 5.0
    total_timeout: Seconds = 60.0
    watch_interval: Seconds = 2.0
    debounce: NonNegSeconds = 0.3
    trust_reload_interval: Seconds = 2.0
    max_compressed: Count = 16 * 1024 * 1024
    max_uncompressed: Count = 64 * 1024 * 1024
    max_members: Count = 1000
    max_file: Count = 16 * 1024 * 1024
    skew: NonNegSeconds = 300.0
    max_future_skew: NonNegSeconds = 3600.0
    max_validity: Seconds = 30 * 86_400.0

    def __post_init__(self) -> None:
        for i, source in enumerate(self.sources):
            scheme = urlsplit(source).scheme
            if not source or (scheme not in ("http", "https") and "://" in source):
                raise _field(f"sources[{i}]", f"must be a path or an http(s) URL, got {source!r}")
        if self.sources and not self.trust:
            raise _field("trust", "a trust file is required when sources are set")
        if not self.state_dir:
            raise _field("state_dir", "must not be empty")
        if self.poll_max < self.poll_min:
            raise _field("poll_max", "must be >= poll_min")
        if not self.names:
            raise _field("names", "at least one name glob is required")

    @property
    def enabled(self) -> bool:
        return bool(self.sources)


class Session(Base, frozen=True):
    """Signed session tokens and the request context (DESIGN §2). ``keys`` maps key ids
    to secrets; new tokens are signed with ``active_key``, and every key in ``keys``
    verifies. With no keys, the node signs with a random key of its own."""

    keys: dict[str, str] = {}
    active_key: str = ""
    ttl: Seconds = 21_600.0
    param: ParamName = "eas"
    geo_header: HeaderName = "CDN-Country"

    def __post_init__(self) -> None:
        for kid, secret in self.keys.items():
            if not _KEY_ID.fullmatch(kid):
                raise _field(f"keys.{kid}", "a key id is 1-32 characters of A-Z a-z 0-9 . _ -")
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise _field(f"keys.{kid}", f"a secret needs at least {MIN_SECRET_BYTES} bytes")
        if self.keys and self.active_key not in self.keys:
            names = ", ".join(sorted(self.keys))
            raise _field(
                "active_key", f"must name one of the keys ({names}), got {self.active_key!r}"
            )
        if not self.keys and self.active_key:
            raise _field("active_key", f"names {self.active_key!r} but no keys are configured")
        if self.param in QUERY_PARAMS or self.param.startswith(CHOICE_PREFIX):
            raise _field("param", f"{self.param!r} is a context query parameter")

    def keyring(self) -> dict[str, bytes]:
        """The verification keys, as bytes."""
        return {kid: secret.encode() for kid, secret in self.keys.items()}


class Personalise(Base, frozen=True):
    """The per-viewer manifest pipeline (DESIGN §2, §4 "Fail open with a deadline").
    ``deadline`` bounds decide + apply + check + render of one request (seconds of CPU on
    the request's path; past it the origin manifest is served); ``asset_timeout`` bounds
    each fetch of an asset manifest the plan needs (an ad, a recap)."""

    deadline: Seconds = 0.05
    asset_timeout: Seconds = 2.0
    parsed_models: Count = 1024
    cohort_renders: Count = 4096


class Live(Base, frozen=True):
    """Live break replacement (DESIGN §4 "Live in-stream ad replacement needs the break
    history"). ``history`` keeps the breaks seen per stream: ``"memory"`` (this process) or
    a ``redis://`` / ``rediss://`` URL shared by the nodes. A break expires ``history_ttl``
    seconds after it was first seen; each stream keeps its ``history_max_breaks`` latest,
    and memory keeps the ``history_max_streams`` most recently used streams. Every Redis
    call is bounded by ``redis_timeout`` seconds; its keys start with ``key_prefix``."""

    history: str = "memory"
    history_ttl: Seconds = 21_600.0
    history_max_breaks: Count = 64
    history_max_streams: Count = 1024
    redis_timeout: Seconds = 0.2
    key_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9:._/-]{0,64}$")] = "eas:"

    def __post_init__(self) -> None:
        if self.history == "memory":
            return
        parts = urlsplit(self.history)
        shown = redact_url(self.history)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise _field("history", f'must be "memory" or a redis(s):// URL, got {shown!r}')
        if parts.query or parts.fragment:
            raise _field("history", f"must not carry a query or fragment, got {shown!r}")
        try:
            valid_port = parts.port != 0
        except ValueError:
            valid_port = False
        if not valid_port:
            raise _field("history", f"has an invalid port, got {shown!r}")
        if parts.path not in ("", "/") and not parts.path[1:].isdigit():
            raise _field("history", f"path must be a database number, got {shown!r}")


class Debug(Base, frozen=True):
    """The dry-run endpoint ``{admin_prefix}/debug/render`` (README "Dry run and debug
    endpoint"): off while ``token`` is empty; callers send ``Authorization: Bearer <token>``."""

    token: str = ""

    def __post_init__(self) -> None:
        if self.token and not _TOKEN.fullmatch(self.token):
            raise _field(
                "token",
                f"must be at least {MIN_SECRET_BYTES} characters of A-Z a-z 0-9 - . _ ~ + /",
            )

    @property
    def enabled(self) -> bool:
        return bool(self.token)


class NodeConfig(Base, frozen=True):
    """``workers`` is the number of serving processes sharing the listen ports (0: one per
    CPU this process may run on; 1: a single process, no supervisor)."""

    origins: tuple[Origin, ...] = ()
    listen: tuple[str, ...] = ("127.0.0.1:8080",)
    workers: Annotated[int, msgspec.Meta(ge=0)] = 0
    admin_prefix: str = "/_edge"
    max_manifest_bytes: Count = 8 * 1024 * 1024
    gzip_min_bytes: Annotated[int, msgspec.Meta(ge=0)] = 1024
    drain_timeout: Seconds = 10.0
    via: str = "1.1 edge-assembler"
    timeouts: Timeouts = Timeouts()
    cache: Cache = Cache()
    cors: Cors = Cors()
    log: Log = Log()
    bundles: Bundles = Bundles()
    session: Session = Session()
    personalise: Personalise = Personalise()
    live: Live = Live()
    debug: Debug = Debug()

    def __post_init__(self) -> None:
        if not self.origins:
            raise _field("origins", "at least one is required ([[origins]] or --origin)")
        if not self.listen:
            raise _field("listen", "at least one address is required")
        for i, address in enumerate(self.listen):
            try:
                parse_listen(address)
            except ValueError as exc:
                raise _field(f"listen[{i}]", str(exc)) from None
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.admin_prefix):
            raise _field("admin_prefix", f"must look like '/_edge', got {self.admin_prefix!r}")
        if self.live.history_ttl < self.session.ttl:
            # A live session's numbering needs every break since it started (README "Live
            # break replacement").
            raise _field(
                "live",
                f"history_ttl ({self.live.history_ttl:g} s) must be at least session.ttl "
                f"({self.session.ttl:g} s): a session's breaks stay while its token is valid",
            )

    def listen_addresses(self) -> list[tuple[str, int]]:
        return [parse_listen(a) for a in self.listen]

    def worker_count(self) -> int:
        return self.workers or len(os.sched_getaffinity(0))

    def origin_routes(self) -> list[OriginRoute]:
        return [
            OriginRoute(index=i, prefix=o.prefix, base=o.url, strip_prefix=o.strip_prefix)
            for i, o in enumerate(self.origins)
        ]


def _field(name: str, message: str) -> ValueError:
    """A validation error about one field of the Struct being checked."""
    return ValueError(f"{_FIELD_MARK}{name}{_FIELD_MARK}{message}")


def parse_listen(address: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``; an empty host means every interface."""
    match = _LISTEN.fullmatch(address)
    if not match or int(match["port"]) > 65535:
        raise ValueError(f"must be HOST:PORT or [V6]:PORT, got {address!r}")
    return (match["v6"] or match["host"] or "", int(match["port"]))


def load_config(
    text: str | None = None,
    *,
    source: str = "config",
    env: Mapping[str, str] | None = None,
    sets: Iterable[str] = (),
    origin: str | None = None,
    listen: Iterable[str] = (),
    bundle: Iterable[str] = (),
    trust: str | None = None,
    state_dir: str | None = None,
    workers: int | None = None,
) -> NodeConfig:
    """Build the node config from a TOML text, the environment and flag values."""
    raw: dict[str, Any] = {}
    if text is not None:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    env = env or {}
    for key, value in sorted(env.items()):
        if key.startswith(ENV_PREFIX):
            dotted = key[len(ENV_PREFIX) :].lower().replace("__", ".")
            _assign(raw, dotted, value, what=key)
    if env.get("EDGE_ASSEMBLER_ORIGIN"):
        raw["origins"] = [{"url": env["EDGE_ASSEMBLER_ORIGIN"]}]
    if env.get("EDGE_ASSEMBLER_LISTEN"):
        raw["listen"] = [a.strip() for a in env["EDGE_ASSEMBLER_LISTEN"].split(",")]
    for item in sets:
        dotted, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        _assign(raw, dotted.strip(), value, what=f"--set {dotted.strip()}")
    if origin:
        raw["origins"] = [{"url": origin}]
    if listen := list(listen):
        raw["listen"] = listen
    if workers is not None:
        raw["workers"] = workers
    bundles = {
        key: value
        for key, value in (("sources", list(bundle)), ("trust", trust), ("state_dir", state_dir))
        if value
    }
    if bundles:
        section = raw.setdefault("bundles", {})
        if not isinstance(section, dict):
            raise ConfigError("$.bundles is not a table")
        section.update(bundles)
    return _convert(raw, source)


def _assign(raw: dict[str, Any], dotted: str, value: str, *, what: str) -> None:
    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(f"{what}: malformed key {dotted!r}")
    node = raw
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{what}: $.{'.'.join(keys[:-1])} is not a table")
        node = child
    node[keys[-1]] = _toml_value(value)


def _toml_value(text: str) -> Any:
    """A TOML value (``1.5``, ``true``, ``["a", "b"]``), or the text itself as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _convert(raw: dict[str, Any], source: str) -> NodeConfig:
    try:
        return msgspec.convert(raw, NodeConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(_with_path_first(str(exc), source)) from None


def _with_path_first(message: str, source: str) -> str:
    """msgspec says ``<what> - at `$.a[0].b```; we say ``$.a[0].b: <what>``."""
    what, sep, where = message.rpartition(" - at `")
    path = where.rstrip("`") if sep else "$"
    if not sep:
        what = message
    if what.startswith(_FIELD_MARK):
        field, _, what = what[1:].partition(_FIELD_MARK)
        path = f"{path}.{field}"
    return f"{path}: {what} ({source})"


REDACTED = "<redacted>"


def redact_url(url: str) -> str:
    """``url`` with the password of its user info, if any, replaced by ``REDACTED``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return parts._replace(netloc=f"{name}:{REDACTED}@{host}").geturl()


def dump_config(config: NodeConfig, *, secrets: bool = False) -> str:
    """The effective configuration, as JSON (for `edge-assembler config`); the session
    key secrets, the debug token and the password of the live history URL read
    ``REDACTED`` unless ``secrets``."""
    data = msgspec.to_builtins(config)
    if not secrets:
        data["session"]["keys"] = dict.fromkeys(config.session.keys, REDACTED)
        if config.debug.token:
            data["debug"]["token"] = REDACTED
        data["live"]["history"] = redact_url(config.live.history)
    return msgspec.json.format(msgspec.json.encode(data)).decode()
