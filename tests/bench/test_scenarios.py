"""The cohort-miss scenario's URLs: every plan once, in a fixed order whose stretches each
mix short and long plans, so that every run of it costs the edge alike."""

import statistics
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bench.scenarios import FULL, SCENARIOS, Context

RUN = 1000  # about the requests of one closed-loop second on the miss path


async def _miss_urls() -> list[str]:
    scenario = next(s for s in SCENARIOS if s.name == "vod-media-cohort-miss")
    async with aiohttp.ClientSession() as http:
        return await scenario.urls(Context("http://127.0.0.1:9", "", http, FULL))


async def test_cohort_misses_ask_for_each_plan_once_in_a_mix_of_lengths() -> None:
    urls = await _miss_urls()
    lengths = [float(parse_qs(urlsplit(u).query)["len"][0]) for u in urls]
    assert sorted(lengths) == [60 + i / 2 for i in range(FULL.misses)]
    mean = statistics.mean(lengths)
    stretches = [lengths[i : i + RUN] for i in range(0, len(lengths) - RUN + 1, RUN // 4)]
    assert all(abs(statistics.mean(s) - mean) < 0.1 * mean for s in stretches)
    assert await _miss_urls() == urls
