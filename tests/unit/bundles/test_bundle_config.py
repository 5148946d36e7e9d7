"""The ``[bundles]`` section of the node configuration."""

import pytest

from edge_assembler.config import Bundles, ConfigError, load_config

ORIGIN = '[[origins]]\nurl = "http://origin:8000"\n'


def test_off_by_default():
    config = load_config(ORIGIN)
    assert config.bundles == Bundles()
    assert not config.bundles.enabled
    assert config.bundles.stale_policy == "serve"
    assert config.bundles.max_compressed == 16 * 1024 * 1024


def test_a_full_section():
    config = load_config(
        ORIGIN
        + """
[bundles]
sources = ["/srv/rules/current.tar.gz", "https://rules.example/prod.tar.gz"]
trust = "/etc/edge-assembler/trust.json"
state_dir = "/var/lib/edge"
names = ["prod-*"]
scope = { env = "prod", pop = "par1" }
min_revision = 1000
stale_policy = "passthrough"
poll_min = 5.0
poll_max = 6.0
"""
    )
    b = config.bundles
    assert b.enabled
    assert b.names == ("prod-*",)
    assert b.scope == {"env": "prod", "pop": "par1"}
    assert (b.min_revision, b.stale_policy, b.poll_min, b.poll_max) == (1000, "passthrough", 5, 6)


@pytest.mark.parametrize(
    ("section", "start"),
    [
        ('sources = ["/b"]', "$.bundles.trust: a trust file is required"),
        ('sources = ["ftp://x/b"]\ntrust = "/t"', "$.bundles.sources[0]: must be a path or"),
        ("poll_min = 10.0\npoll_max = 1.0", "$.bundles.poll_max: must be >= poll_min"),
        ('stale_policy = "ignore"', "$.bundles.stale_policy: "),
        ("max_compressed = 0", "$.bundles.max_compressed: "),
        ("names = []", "$.bundles.names: "),
        ("unknown = 1", "$.bundles: Object contains unknown field `unknown`"),
    ],
)
def test_errors_name_the_field(section: str, start: str):
    with pytest.raises(ConfigError) as info:
        load_config(ORIGIN + "[bundles]\n" + section + "\n", source="edge.toml")
    assert str(info.value).startswith(start)


def test_flags_fill_the_section():
    config = load_config(
        ORIGIN, bundle=["/a.tar.gz", "https://x/b"], trust="/t.json", state_dir="/s"
    )
    assert config.bundles.sources == ("/a.tar.gz", "https://x/b")
    assert (config.bundles.trust, config.bundles.state_dir) == ("/t.json", "/s")
