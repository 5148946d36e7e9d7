"""The ``[live]`` config section: history backend URL checks and password redaction."""

import json

import pytest

from edge_assembler.config import REDACTED, ConfigError, Live, dump_config, load_config

ORIGIN = '[[origins]]\nurl = "http://origin:8000"\n'


def test_defaults() -> None:
    assert load_config(ORIGIN).live == Live(
        history="memory",
        history_ttl=21_600.0,
        history_max_breaks=64,
        history_max_streams=1024,
        redis_timeout=0.2,
        key_prefix="eas:",
    )


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://redis.internal",
        "rediss://edge:pw@redis.internal:6380/",
        "redis://[::1]:6379/2",
    ],
)
def test_redis_urls_are_accepted(url: str) -> None:
    assert load_config(ORIGIN + f'[live]\nhistory = "{url}"\n').live.history == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://:pw-123@redis:6379", 'must be "memory" or a redis\\(s\\):// URL'),
        ("redis://:pw-123@", 'must be "memory" or a redis\\(s\\):// URL'),
        ("memory://", 'must be "memory" or a redis\\(s\\):// URL'),
        ("redis://:pw-123@redis:99999", "has an invalid port"),
        ("redis://:pw-123@redis:6379/zero", "path must be a database number"),
        ("redis://:pw-123@redis:6379/0?db=1", "must not carry a query or fragment"),
    ],
)
def test_bad_history_urls_name_the_field_not_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^\$\.live\.history: {message}") as info:
        load_config(ORIGIN + f'[live]\nhistory = "{url}"\n')
    assert "pw-123" not in str(info.value)


def test_environment_overrides_the_history() -> None:
    env = {"EDGE_ASSEMBLER__LIVE__HISTORY": '"redis://r:6379/1"'}
    assert load_config(ORIGIN, env=env).live.history == "redis://r:6379/1"


@pytest.mark.parametrize("prefix", ["a b", "x{y}", "p" * 65])
def test_key_prefix_is_checked(prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"^\$\.live\.key_prefix: "):
        load_config(ORIGIN + f'[live]\nkey_prefix = "{prefix}"\n')


def test_dump_config_redacts_the_redis_password_unless_asked() -> None:
    url = "rediss://edge:pa:ss@word@redis.internal:6380/0"
    config = load_config(ORIGIN + f'[live]\nhistory = "{url}"\n')
    dumped = dump_config(config)
    assert json.loads(dumped)["live"]["history"] == (
        f"rediss://edge:{REDACTED}@redis.internal:6380/0"
    )
    assert "pa:ss@word" not in dumped
    assert json.loads(dump_config(config, secrets=True))["live"]["history"] == url
    plain = load_config(ORIGIN + '[live]\nhistory = "redis://redis.internal"\n')
    assert json.loads(dump_config(plain))["live"]["history"] == "redis://redis.internal"


def test_a_history_shorter_than_a_session_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"history_ttl .* must be at least session\.ttl"):
        load_config(None, origin="http://127.0.0.1:9", sets=["live.history_ttl=60"])
    config = load_config(
        None, origin="http://127.0.0.1:9", sets=["live.history_ttl=60", "session.ttl=60"]
    )
    assert config.live.history_ttl == config.session.ttl == 60
