"""Node configuration: TOML file < environment < --set < flags, with errors that name the field."""

import itertools
import json
import os
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.config import (
    REDACTED,
    Cache,
    ConfigError,
    Cors,
    Log,
    NodeConfig,
    Origin,
    Session,
    Timeouts,
    dump_config,
    load_config,
    parse_listen,
)
from edge_assembler.core.freshness import CachePolicy
from edge_assembler.core.routing import OriginRoute

ORIGIN = '[[origins]]\nurl = "http://origin:8000"\n'


def test_defaults() -> None:
    config = load_config(origin="http://origin:8000")
    assert config.origins == (
        Origin(url="http://origin:8000", prefix="/", strip_prefix=False, max_connections=256),
    )
    assert config.listen == ("127.0.0.1:8080",)
    assert config.admin_prefix == "/_edge"
    assert config.max_manifest_bytes == 8 * 1024 * 1024
    assert config.gzip_min_bytes == 1024
    assert config.drain_timeout == 10.0
    assert config.via == "1.1 edge-assembler"
    assert config.timeouts == Timeouts(connect=2.0, first_byte=5.0, total=10.0, idle=30.0)
    assert config.cache == Cache(
        max_entries=20_000,
        max_bytes=256 * 1024 * 1024,
        default_ttl=1.0,
        error_ttl=1.0,
        stale_if_error=30.0,
        max_stale_if_error=300.0,
        learned_manifests=10_000,
    )
    assert config.cors.enabled is True
    assert config.cors.allow_origins == ("*",)
    assert config.cors.allow_methods == ("GET", "HEAD", "OPTIONS")
    assert "Range" in config.cors.allow_headers
    assert "If-None-Match" in config.cors.allow_headers
    assert {"Content-Range", "ETag", "Age", "X-Cache"} <= set(config.cors.expose_headers)
    assert config.cors.allow_credentials is False
    assert config.cors.max_age == 86_400
    assert config.log == Log(format="json", access_log=True, level="info")
    assert config.listen_addresses() == [("127.0.0.1", 8080)]


def test_file_defaults_equal_flag_defaults() -> None:
    assert load_config(ORIGIN) == load_config(origin="http://origin:8000")


FULL = """
listen = ["0.0.0.0:80", "[::]:8443"]
workers = 3
admin_prefix = "/ops/edge"
max_manifest_bytes = 1048576
gzip_min_bytes = 0
drain_timeout = 2.5
via = "1.1 pop-ams-1"

[[origins]]
url = "http://live-packager:8080/out/"
prefix = "/live"
strip_prefix = true
max_connections = 16

[[origins]]
url = "https://vod.example"

[timeouts]
connect = 0.5
first_byte = 1
total = 3.0
idle = 7.5

[cache]
max_entries = 10
max_bytes = 4096
default_ttl = 0
error_ttl = 2
stale_if_error = 0
max_stale_if_error = 60
learned_manifests = 5

[cors]
enabled = false
allow_origins = ["https://player.example"]
allow_methods = ["GET"]
allow_headers = ["Range", "X-Session"]
expose_headers = ["ETag"]
allow_credentials = true
max_age = 0

[log]
format = "text"
access_log = false
level = "debug"
"""


def test_every_section() -> None:
    config = load_config(FULL, source="edge.toml")
    assert config == NodeConfig(
        origins=(
            Origin(
                url="http://live-packager:8080/out/",
                prefix="/live",
                strip_prefix=True,
                max_connections=16,
            ),
            Origin(url="https://vod.example"),
        ),
        listen=("0.0.0.0:80", "[::]:8443"),
        workers=3,
        admin_prefix="/ops/edge",
        max_manifest_bytes=1_048_576,
        gzip_min_bytes=0,
        drain_timeout=2.5,
        via="1.1 pop-ams-1",
        timeouts=Timeouts(connect=0.5, first_byte=1.0, total=3.0, idle=7.5),
        cache=Cache(
            max_entries=10,
            max_bytes=4096,
            default_ttl=0.0,
            error_ttl=2.0,
            stale_if_error=0.0,
            max_stale_if_error=60.0,
            learned_manifests=5,
        ),
        cors=Cors(
            enabled=False,
            allow_origins=("https://player.example",),
            allow_methods=("GET",),
            allow_headers=("Range", "X-Session"),
            expose_headers=("ETag",),
            allow_credentials=True,
            max_age=0,
        ),
        log=Log(format="text", access_log=False, level="debug"),
    )
    assert isinstance(config.timeouts.first_byte, float)
    assert config.listen_addresses() == [("0.0.0.0", 80), ("::", 8443)]
    assert config.origin_routes() == [
        OriginRoute(
            index=0, prefix="/live", base="http://live-packager:8080/out/", strip_prefix=True
        ),
        OriginRoute(index=1, prefix="/", base="https://vod.example", strip_prefix=False),
    ]
    assert config.cache.policy() == CachePolicy(
        default_ttl=0.0, error_ttl=2.0, stale_if_error=0.0, max_stale_if_error=60.0
    )


# (TOML text, expected start of the message)
ERROR_CASES = [
    pytest.param("", "$.origins: at least one is required", id="no-origins"),
    pytest.param("origins = []", "$.origins: at least one is required", id="empty-origins"),
    pytest.param(
        '[[origins]]\nurl = "ftp://o"', "$.origins[0].url: must be an http(s) URL", id="scheme"
    ),
    pytest.param(
        '[[origins]]\nurl = "origin:8000"', "$.origins[0].url: must be an http(s)", id="no-scheme"
    ),
    pytest.param('[[origins]]\nurl = "http://"', "$.origins[0].url: must be", id="no-host"),
    pytest.param(
        ORIGIN + '[[origins]]\nurl = "http://o/?a=1"',
        "$.origins[1].url: must not carry a query",
        id="query-second-origin",
    ),
    pytest.param(
        '[[origins]]\nurl = "http://o/#x"', "$.origins[0].url: must not carry", id="fragment"
    ),
    pytest.param(
        '[[origins]]\nurl = "http://u:p@o"', "$.origins[0].url: must not carry", id="credentials"
    ),
    pytest.param(
        '[[origins]]\nurl = "http://o"\nprefix = "live"',
        "$.origins[0].prefix: must start with '/'",
        id="prefix",
    ),
    pytest.param(
        '[[origins]]\nurl = "http://o"\nmax_connections = 0',
        "$.origins[0].max_connections: Expected `int` >= 1",
        id="max-connections",
    ),
    pytest.param("[[origins]]\nprefix = '/'", "$.origins[0]: Object missing required", id="url"),
    pytest.param("[[origins]]\nurl = 5", "$.origins[0].url: Expected `str`", id="url-type"),
    pytest.param(
        '[[origins]]\nurl = "http://o"\ncolour = "red"',
        "$.origins[0]: Object contains unknown field `colour`",
        id="unknown-origin-field",
    ),
    pytest.param(
        'colour = "red"\n' + ORIGIN, "$: Object contains unknown field `colour`", id="unknown-top"
    ),
    pytest.param(
        ORIGIN + "[timeouts]\nconect = 1",
        "$.timeouts: Object contains unknown field `conect`",
        id="unknown-timeouts-field",
    ),
    pytest.param(
        ORIGIN + "[timeouts]\nconnect = 0", "$.timeouts.connect: Expected `float` > 0", id="zero"
    ),
    pytest.param(
        ORIGIN + "[timeouts]\nconnect = -1", "$.timeouts.connect: Expected `float` > 0", id="neg"
    ),
    pytest.param(
        ORIGIN + '[timeouts]\nconnect = "fast"',
        "$.timeouts.connect: Expected `float`, got `str`",
        id="timeout-type",
    ),
    pytest.param(
        ORIGIN + "[timeouts]\nidle = 0", "$.timeouts.idle: Expected `float` > 0", id="idle"
    ),
    pytest.param(
        'listen = ["127.0.0.1:80", "nonsense"]\n' + ORIGIN,
        "$.listen[1]: must be HOST:PORT or [V6]:PORT, got 'nonsense'",
        id="listen-item",
    ),
    pytest.param(
        'listen = ["::1:80"]\n' + ORIGIN, "$.listen[0]: must be HOST:PORT", id="unbracketed-v6"
    ),
    pytest.param(
        'listen = ["a:65536"]\n' + ORIGIN, "$.listen[0]: must be HOST:PORT", id="port-too-big"
    ),
    pytest.param("listen = []\n" + ORIGIN, "$.listen: at least one address", id="no-listen"),
    pytest.param('listen = "a:1"\n' + ORIGIN, "$.listen: Expected `array`", id="listen-type"),
    pytest.param(
        'admin_prefix = "_edge"\n' + ORIGIN, "$.admin_prefix: must look like '/_edge'", id="admin"
    ),
    pytest.param(
        'admin_prefix = "/_edge/"\n' + ORIGIN, "$.admin_prefix: must look like", id="admin-slash"
    ),
    pytest.param(
        "drain_timeout = 0\n" + ORIGIN, "$.drain_timeout: Expected `float` > 0", id="drain"
    ),
    pytest.param(
        "gzip_min_bytes = -1\n" + ORIGIN, "$.gzip_min_bytes: Expected `int` >= 0", id="gzip-min"
    ),
    pytest.param(
        "max_manifest_bytes = 0\n" + ORIGIN,
        "$.max_manifest_bytes: Expected `int` >= 1",
        id="max-manifest",
    ),
    pytest.param(
        ORIGIN + "[cache]\ndefault_ttl = -0.5",
        "$.cache.default_ttl: Expected `float` >= 0",
        id="cache-ttl",
    ),
    pytest.param(
        ORIGIN + "[cache]\nmax_entries = 0", "$.cache.max_entries: Expected `int` >= 1", id="cache"
    ),
    pytest.param(
        ORIGIN + "[cors]\nallow_credentials = true",
        "$.cors.allow_credentials: cannot be combined with allow_origins '*'",
        id="cors-credentials-star",
    ),
    pytest.param(
        ORIGIN + '[cors]\nallow_headers = ["Range", "Bad Header"]',
        "$.cors.allow_headers[1]: Expected `str` matching regex",
        id="cors-header-name",
    ),
    pytest.param(
        ORIGIN + "[cors]\nmax_age = -1", "$.cors.max_age: Expected `int` >= 0", id="cors-max-age"
    ),
    pytest.param(
        ORIGIN + '[log]\nformat = "xml"', "$.log.format: Invalid enum value 'xml'", id="log-format"
    ),
    pytest.param(
        ORIGIN + '[log]\nlevel = "trace"', "$.log.level: Invalid enum value", id="log-level"
    ),
    pytest.param(
        ORIGIN + "log = 3",
        "$.origins[0]: Object contains unknown field",
        id="key-after-table-belongs-to-it",
    ),
    pytest.param("log = 3\n" + ORIGIN, "$.log: Expected `object`, got `int`", id="section-type"),
]


@pytest.mark.parametrize(("text", "start"), ERROR_CASES)
def test_errors_name_the_field(text: str, start: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(text, source="edge.toml")
    message = str(info.value)
    assert message.startswith(start)
    assert message.endswith("(edge.toml)")
    assert "\x1f" not in message  # the internal field marker never leaks


def test_workers_default_to_one_per_usable_cpu() -> None:
    assert load_config(ORIGIN).worker_count() == len(os.sched_getaffinity(0))
    assert load_config(ORIGIN, workers=3).worker_count() == 3
    assert load_config(ORIGIN, env={"EDGE_ASSEMBLER__WORKERS": "1"}).worker_count() == 1
    with pytest.raises(ConfigError, match=r"^\$\.workers: Expected `int` >= 0"):
        load_config(ORIGIN, workers=-1)


def test_set_value_is_validated_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"^\$\.timeouts\.connect: "):
        load_config(ORIGIN, sets=["timeouts.connect=0"])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[[origins]\nurl = 'x'", id="unclosed-table"),
        pytest.param("listen = [", id="unclosed-array"),
        pytest.param("a = 1\na = 2", id="duplicate-key"),
    ],
)
def test_invalid_toml_names_the_source(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(text, source="/etc/edge-assembler/edge.toml")
    assert str(info.value).startswith("/etc/edge-assembler/edge.toml: invalid TOML: ")


def test_invalid_toml_default_source() -> None:
    with pytest.raises(ConfigError, match=r"^config: invalid TOML: "):
        load_config("=")


# ---------------------------------------------------------------------------------------
# Environment and --set


def test_env_overrides_sections() -> None:
    config = load_config(
        ORIGIN,
        env={
            "EDGE_ASSEMBLER__TIMEOUTS__CONNECT": "0.5",
            "EDGE_ASSEMBLER__CACHE__DEFAULT_TTL": "4",
            "EDGE_ASSEMBLER__LOG__FORMAT": "text",  # not a TOML value: taken as a string
            "EDGE_ASSEMBLER__LOG__ACCESS_LOG": "false",
            "EDGE_ASSEMBLER__CORS__ALLOW_ORIGINS": '["https://a.example", "https://b.example"]',
            "EDGE_ASSEMBLER__VIA": '"1.1 pop"',
            "EDGE_ASSEMBLER__ADMIN_PREFIX": "/ops",
            "PATH": "/usr/bin",
            "EDGE_ASSEMBLER_UNRELATED": "1",
            "edge_assembler__timeouts__total": "1",
        },
    )
    assert config.timeouts == Timeouts(connect=0.5)
    assert config.cache.default_ttl == 4.0
    assert config.log == Log(format="text", access_log=False)
    assert config.cors.allow_origins == ("https://a.example", "https://b.example")
    assert config.via == "1.1 pop"
    assert config.admin_prefix == "/ops"


def test_env_shorthands() -> None:
    config = load_config(
        ORIGIN,
        env={
            "EDGE_ASSEMBLER_ORIGIN": "http://env-origin",
            "EDGE_ASSEMBLER_LISTEN": "0.0.0.0:80, [::]:80 ,:9000",
        },
    )
    assert config.origins == (Origin(url="http://env-origin"),)
    assert config.listen == ("0.0.0.0:80", "[::]:80", ":9000")
    assert config.listen_addresses() == [("0.0.0.0", 80), ("::", 80), ("", 9000)]


def test_empty_env_shorthands_are_ignored() -> None:
    config = load_config(ORIGIN, env={"EDGE_ASSEMBLER_ORIGIN": "", "EDGE_ASSEMBLER_LISTEN": ""})
    assert config.origins == (Origin(url="http://origin:8000"),)
    assert config.listen == ("127.0.0.1:8080",)


def test_env_value_is_validated_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"^\$\.timeouts\.connect: Expected `float` > 0"):
        load_config(ORIGIN, env={"EDGE_ASSEMBLER__TIMEOUTS__CONNECT": "0"})


def test_env_unknown_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^\$\.timeouts: Object contains unknown field `conect`"):
        load_config(ORIGIN, env={"EDGE_ASSEMBLER__TIMEOUTS__CONECT": "1"})


def test_env_malformed_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(ORIGIN, env={"EDGE_ASSEMBLER__TIMEOUTS____CONNECT": "1"})
    assert str(info.value) == (
        "EDGE_ASSEMBLER__TIMEOUTS____CONNECT: malformed key 'timeouts..connect'"
    )


def test_set_values() -> None:
    config = load_config(
        ORIGIN,
        sets=[
            "timeouts.total=20",
            " cache.max_entries = 5",
            "log.level=warning",
            'cors.allow_methods=["GET", "HEAD"]',
            "gzip_min_bytes=0",
            'origins=[{url = "http://a"}, {url = "http://b", prefix = "/b"}]',
        ],
    )
    assert config.timeouts.total == 20.0
    assert config.cache.max_entries == 5
    assert config.log.level == "warning"
    assert config.cors.allow_methods == ("GET", "HEAD")
    assert config.gzip_min_bytes == 0
    assert config.origins == (Origin(url="http://a"), Origin(url="http://b", prefix="/b"))


def test_set_keeps_sibling_fields_from_the_file() -> None:
    text = ORIGIN + "[timeouts]\nconnect = 1.5\ntotal = 4\n"
    config = load_config(text, sets=["timeouts.total=6"])
    assert config.timeouts == Timeouts(connect=1.5, total=6.0)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param(
            "timeouts.connect", "--set 'timeouts.connect': expected KEY=VALUE", id="no-eq"
        ),
        pytest.param("a..b=1", "--set a..b: malformed key 'a..b'", id="empty-key-part"),
        pytest.param(".a=1", "--set .a: malformed key '.a'", id="leading-dot"),
        pytest.param("=1", "--set : malformed key ''", id="empty-key"),
    ],
)
def test_set_errors(item: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(ORIGIN, sets=[item])
    assert str(info.value) == message


def test_set_into_a_non_table_names_the_path() -> None:
    """The path in the message uses the same ``$.a.b`` form as every other error."""
    with pytest.raises(ConfigError) as info:
        load_config('via = "x"\n' + ORIGIN, sets=["via.version=1"])
    assert str(info.value) == "--set via.version: $.via is not a table"


# ---------------------------------------------------------------------------------------
# Precedence: file < env < --set < flags


LAYERS = ["file", "env", "set", "flag"]


def _layered(present: tuple[bool, ...]) -> dict[str, Any]:
    """Arguments where each present layer sets the connect timeout, the listen address and
    the origin to a value naming the layer."""
    file, env, sets, flag = present
    text = ""
    if file:
        text = 'listen = ["file:1"]\n[[origins]]\nurl = "http://file"\n[timeouts]\nconnect = 1\n'
    environ = {"HOME": "/root"}
    if env:
        environ |= {
            "EDGE_ASSEMBLER_ORIGIN": "http://env",
            "EDGE_ASSEMBLER_LISTEN": "env:2",
            "EDGE_ASSEMBLER__TIMEOUTS__CONNECT": "2",
        }
    return {
        "text": text,
        "env": environ,
        "sets": (
            ['origins=[{url = "http://set"}]', 'listen=["set:3"]', "timeouts.connect=3"]
            if sets
            else []
        ),
        "origin": "http://flag" if flag else None,
        "listen": ["flag:4"] if flag else [],
    }


@pytest.mark.parametrize(
    "present",
    [p for p in itertools.product([False, True], repeat=4) if any(p)],
    ids=lambda p: "+".join(name for name, on in zip(LAYERS, p, strict=True) if on),
)
def test_precedence(present: tuple[bool, ...]) -> None:
    config = load_config(**_layered(present))
    winner = max(i for i, on in enumerate(present) if on)
    name = LAYERS[winner]
    assert config.origins == (Origin(url=f"http://{name}"),)
    assert config.listen == (f"{name}:{winner + 1}",)
    # Flags have no timeout option: the highest other layer sets it.
    timeout_layers = [i for i, on in enumerate(present[:3]) if on]
    assert config.timeouts.connect == (float(max(timeout_layers) + 1) if timeout_layers else 2.0)


def test_env_shorthand_beats_env_section_key() -> None:
    config = load_config(
        env={
            "EDGE_ASSEMBLER__LISTEN": '["section:1"]',
            "EDGE_ASSEMBLER_LISTEN": "shorthand:2",
            "EDGE_ASSEMBLER_ORIGIN": "http://o",
        }
    )
    assert config.listen == ("shorthand:2",)


# ---------------------------------------------------------------------------------------
# Listen addresses

LISTEN_CASES = [
    pytest.param("127.0.0.1:8080", ("127.0.0.1", 8080), id="v4"),
    pytest.param("localhost:80", ("localhost", 80), id="name"),
    pytest.param(":8080", ("", 8080), id="all-interfaces"),
    pytest.param("0.0.0.0:0", ("0.0.0.0", 0), id="port-zero"),
    pytest.param("h:65535", ("h", 65535), id="max-port"),
    pytest.param("[::1]:8443", ("::1", 8443), id="v6-loopback"),
    pytest.param("[::]:80", ("::", 80), id="v6-any"),
    pytest.param("[2001:db8::1]:443", ("2001:db8::1", 443), id="v6"),
    pytest.param("[::ffff:192.0.2.1]:80", ("::ffff:192.0.2.1", 80), id="v4-mapped"),
]


@pytest.mark.parametrize(("address", "expected"), LISTEN_CASES)
def test_parse_listen(address: str, expected: tuple[str, int]) -> None:
    assert parse_listen(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "",
        "8080",
        "localhost",
        "localhost:",
        "localhost:http",
        "h:65536",
        "h:123456",
        "h:-1",
        "::1:8080",
        "[::1]",
        "[::1]8080",
        "[::1:8080",
        "::1]:8080",
        "[example.com]:80",
        "a:b:80",
        "[::1]:80:80",
        "127.0.0.1:80\n",
    ],
)
def test_parse_listen_rejects(address: str) -> None:
    with pytest.raises(ValueError, match="must be HOST:PORT or \\[V6\\]:PORT"):
        parse_listen(address)


def test_ipv6_listen_in_config() -> None:
    config = load_config(ORIGIN, listen=["[::1]:8443", "[::]:80"])
    assert config.listen == ("[::1]:8443", "[::]:80")
    assert config.listen_addresses() == [("::1", 8443), ("::", 80)]


# ---------------------------------------------------------------------------------------
# dump_config


def _round_trip(config: NodeConfig) -> NodeConfig:
    return msgspec.convert(json.loads(dump_config(config, secrets=True)), NodeConfig)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(load_config(origin="http://o"), id="defaults"),
        pytest.param(load_config(FULL), id="full"),
    ],
)
def test_dump_config_round_trip(config: NodeConfig) -> None:
    assert _round_trip(config) == config


def test_dump_config_is_readable_json() -> None:
    dumped = dump_config(load_config(ORIGIN))
    assert "\n" in dumped  # indented for people
    data = json.loads(dumped)
    assert data["origins"] == [
        {"url": "http://origin:8000", "prefix": "/", "strip_prefix": False, "max_connections": 256}
    ]
    assert data["timeouts"] == {"connect": 2.0, "first_byte": 5.0, "total": 10.0, "idle": 30.0}
    assert data["listen"] == ["127.0.0.1:8080"]
    assert set(data) == {
        "origins",
        "listen",
        "workers",
        "admin_prefix",
        "max_manifest_bytes",
        "gzip_min_bytes",
        "drain_timeout",
        "via",
        "timeouts",
        "cache",
        "cors",
        "log",
        "bundles",
        "session",
        "personalise",
        "live",
        "debug",
    }


def test_dump_config_redacts_session_secrets_unless_asked() -> None:
    secret = "s" * 40
    config = load_config(ORIGIN + f'[session]\nactive_key = "k1"\nkeys = {{k1 = "{secret}"}}\n')
    assert json.loads(dump_config(config))["session"]["keys"] == {"k1": REDACTED}
    assert secret not in dump_config(config)
    assert json.loads(dump_config(config, secrets=True))["session"]["keys"] == {"k1": secret}


def test_debug_token_is_off_by_default_validated_and_redacted() -> None:
    assert not load_config(ORIGIN).debug.enabled
    token = "t0-k." * 8
    config = load_config(ORIGIN + f'[debug]\ntoken = "{token}"\n')
    assert config.debug.enabled
    assert json.loads(dump_config(config))["debug"]["token"] == REDACTED
    assert token not in dump_config(config)
    assert json.loads(dump_config(config, secrets=True))["debug"]["token"] == token
    for bad in ("short", "x" * 31, "a b" * 20):
        with pytest.raises(ConfigError, match=r"^\$\.debug\.token: must be at least 32"):
            load_config(ORIGIN + f'[debug]\ntoken = "{bad}"\n')


_seconds = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)
_hosts = st.sampled_from(["", "127.0.0.1", "edge.local", "[::1]", "[2001:db8::2]"])
_listens = st.builds(lambda h, p: f"{h}:{p}", _hosts, st.integers(0, 65535))
_origins = st.builds(
    Origin,
    url=st.sampled_from(["http://a", "https://b:8443/base", "http://[::1]:9000/"]),
    prefix=st.sampled_from(["/", "/live", "/vod/"]),
    strip_prefix=st.booleans(),
    max_connections=st.integers(1, 10_000),
)
configs = st.builds(
    NodeConfig,
    origins=st.lists(_origins, min_size=1, max_size=3).map(tuple),
    listen=st.lists(_listens, min_size=1, max_size=3).map(tuple),
    drain_timeout=_seconds,
    via=st.text(max_size=20),
    timeouts=st.builds(
        Timeouts, connect=_seconds, first_byte=_seconds, total=_seconds, idle=_seconds
    ),
    log=st.builds(
        Log,
        format=st.sampled_from(["json", "text"]),
        access_log=st.booleans(),
        level=st.sampled_from(["debug", "info", "warning", "error"]),
    ),
)


@settings(max_examples=100, deadline=None)
@given(configs)
def test_dump_config_round_trip_property(config: NodeConfig) -> None:
    assert _round_trip(config) == config
    assert msgspec.json.decode(dump_config(config), type=NodeConfig) == config


# ---------------------------------------------------------------------------------------
# [session]

SECRET = "0123456789abcdef0123456789abcdef"


def test_session_defaults() -> None:
    assert load_config(ORIGIN).session == Session(
        keys={}, active_key="", ttl=21_600.0, param="eas", geo_header="CDN-Country"
    )


def test_session_section() -> None:
    text = ORIGIN + (
        f'[session]\nkeys = {{k2025 = "{SECRET}", k2026 = "{SECRET}!"}}\n'
        'active_key = "k2026"\nttl = 600\nparam = "t"\ngeo_header = "CF-IPCountry"\n'
    )
    session = load_config(text).session
    assert session == Session(
        keys={"k2025": SECRET, "k2026": SECRET + "!"},
        active_key="k2026",
        ttl=600.0,
        param="t",
        geo_header="CF-IPCountry",
    )
    assert session.keyring() == {"k2025": SECRET.encode(), "k2026": SECRET.encode() + b"!"}


def test_session_keys_from_the_environment() -> None:
    config = load_config(
        ORIGIN,
        env={
            "EDGE_ASSEMBLER__SESSION__KEYS__PROD1": SECRET,
            "EDGE_ASSEMBLER__SESSION__ACTIVE_KEY": "prod1",
        },
    )
    assert config.session.keys == {"prod1": SECRET}
    assert config.session.active_key == "prod1"


@pytest.mark.parametrize(
    ("section", "start"),
    [
        pytest.param(
            'keys = {a = "short"}\nactive_key = "a"',
            "$.session.keys.a: a secret needs at least 32 bytes",
            id="short-secret",
        ),
        pytest.param(
            f'keys = {{a = "{"é" * 15}"}}\nactive_key = "a"',  # 30 bytes, 15 characters
            "$.session.keys.a: a secret needs at least 32 bytes",
            id="short-secret-in-bytes",
        ),
        pytest.param(
            f'keys = {{"a/b" = "{SECRET}"}}\nactive_key = "a/b"',
            "$.session.keys.a/b: a key id is 1-32 characters",
            id="key-id",
        ),
        pytest.param(
            f'keys = {{a = "{SECRET}"}}',
            "$.session.active_key: must name one of the keys (a), got ''",
            id="no-active-key",
        ),
        pytest.param(
            f'keys = {{a = "{SECRET}", b = "{SECRET}"}}\nactive_key = "c"',
            "$.session.active_key: must name one of the keys (a, b), got 'c'",
            id="unknown-active-key",
        ),
        pytest.param(
            'active_key = "a"',
            "$.session.active_key: names 'a' but no keys are configured",
            id="active-without-keys",
        ),
        pytest.param("ttl = 0", "$.session.ttl: Expected `float` > 0", id="ttl"),
        pytest.param('param = "a b"', "$.session.param: Expected `str` matching", id="param"),
        pytest.param('param = ""', "$.session.param: Expected `str` matching", id="param-empty"),
        pytest.param(
            'param = "lang"', "$.session.param: 'lang' is a context query parameter", id="lang"
        ),
        pytest.param(
            'param = "choice.x"',
            "$.session.param: 'choice.x' is a context query parameter",
            id="choice",
        ),
        pytest.param(
            'geo_header = "CDN Country"',
            "$.session.geo_header: Expected `str` matching",
            id="geo-header",
        ),
        pytest.param("keys = []", "$.session.keys: Expected `object`", id="keys-type"),
        pytest.param("secret = 1", "$.session: Object contains unknown field", id="unknown"),
    ],
)
def test_session_errors(section: str, start: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(ORIGIN + "[session]\n" + section + "\n", source="edge.toml")
    assert str(info.value).startswith(start)
