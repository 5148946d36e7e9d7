"""Cache-Control parsing and the freshness decision (RFC 9111, RFC 5861 stale-if-error)."""

from typing import Any

import pytest
from hypothesis import example, given, settings, strategies as st

from edge_assembler.core.freshness import (
    CachePolicy,
    Directives,
    Freshness,
    freshness,
    parse_cache_control,
)

POLICY = CachePolicy(default_ttl=2.0, error_ttl=5.0, stale_if_error=30.0, max_stale_if_error=300.0)
NOT_STORED = Freshness(store=False, ttl=0.0, stale_if_error=0.0)

DATE = "Tue, 15 Nov 1994 08:12:31 GMT"
DATE_PLUS_60 = "Tue, 15 Nov 1994 08:13:31 GMT"
DATE_MINUS_60 = "Tue, 15 Nov 1994 08:11:31 GMT"

PARSE_CASES = [
    pytest.param(None, Directives(), id="absent"),
    pytest.param("", Directives(), id="empty"),
    pytest.param(" , ,", Directives(), id="only-commas"),
    pytest.param("max-age=60", Directives(max_age=60), id="max-age"),
    pytest.param("MAX-AGE=60", Directives(max_age=60), id="case-insensitive-name"),
    pytest.param(' max-age = "60" ', Directives(max_age=60), id="quoted-and-spaced"),
    pytest.param("s-maxage=10, max-age=60", Directives(max_age=60, s_maxage=10), id="both"),
    pytest.param("no-store", Directives(no_store=True), id="no-store"),
    pytest.param("No-Cache", Directives(no_cache=True), id="no-cache"),
    pytest.param('no-cache="Set-Cookie"', Directives(no_cache=True), id="qualified-no-cache"),
    pytest.param("private", Directives(private=True), id="private"),
    pytest.param('private="Set-Cookie"', Directives(private=True), id="qualified-private"),
    pytest.param("must-revalidate", Directives(must_revalidate=True), id="must-revalidate"),
    pytest.param("proxy-revalidate", Directives(proxy_revalidate=True), id="proxy-revalidate"),
    pytest.param("stale-if-error=600", Directives(stale_if_error=600), id="stale-if-error"),
    pytest.param(
        "public, immutable, stale-while-revalidate=5, max-age=1",
        Directives(max_age=1),
        id="unknown-directives-ignored",
    ),
    # §4.2.1: the first of duplicated directives wins.
    pytest.param("max-age=60, max-age=5", Directives(max_age=60), id="duplicate-first-wins"),
    pytest.param("max-age=5, max-age=60", Directives(max_age=5), id="duplicate-first-wins-2"),
    # §4.2.1: invalid values are treated conservatively, as zero.
    pytest.param("max-age=abc", Directives(max_age=0), id="non-numeric"),
    pytest.param("max-age=-1", Directives(max_age=0), id="negative"),
    pytest.param("max-age=1.5", Directives(max_age=0), id="fraction"),
    pytest.param("max-age=abc, max-age=60", Directives(max_age=0), id="invalid-first-wins"),
    pytest.param("stale-if-error=x", Directives(stale_if_error=0), id="invalid-stale-if-error"),
    # §1.2.2: delta-seconds saturate at 2**31.
    pytest.param("max-age=99999999999999", Directives(max_age=2**31), id="saturated"),
    pytest.param(f"max-age={2**31 - 1}", Directives(max_age=2**31 - 1), id="just-below-cap"),
    # §1.2.2: delta-seconds = 1*DIGIT, and DIGIT is ASCII 0-9 (RFC 5234), so these are
    # malformed, which counts as zero like any other malformed delta.
    pytest.param("max-age=\u00b2", Directives(max_age=0), id="superscript-digit"),
    pytest.param("max-age=\u0663", Directives(max_age=0), id="arabic-indic-digit"),
    pytest.param("max-age=" + "9" * 5000, Directives(max_age=2**31), id="very-long-number"),
    # An empty argument is an unparseable delta too, not an absent directive.
    pytest.param("max-age=", Directives(max_age=0), id="empty-argument"),
]


@pytest.mark.parametrize(("value", "expected"), PARSE_CASES)
def test_parse_cache_control(value: str | None, expected: Directives) -> None:
    assert parse_cache_control(value) == expected


def fresh(ttl: float, stale: float = POLICY.stale_if_error) -> Freshness:
    return Freshness(store=True, ttl=ttl, stale_if_error=stale)


# (status, Cache-Control, extra keyword arguments, expected)
FRESHNESS_CASES: list[Any] = [
    # Explicit lifetimes: §4.2.1 s-maxage, then max-age, then Expires - Date.
    pytest.param(200, "max-age=60", {}, fresh(60.0), id="max-age"),
    pytest.param(200, "max-age=0", {}, fresh(0.0), id="max-age-zero"),
    pytest.param(200, "max-age=60, s-maxage=10", {}, fresh(10.0, 0.0), id="s-maxage-beats-max-age"),
    pytest.param(200, "s-maxage=0, max-age=60", {}, fresh(0.0, 0.0), id="s-maxage-zero-wins"),
    pytest.param(
        200,
        "max-age=60",
        {"expires": DATE_PLUS_60, "date": DATE_MINUS_60},
        fresh(60.0),
        id="max-age-beats-expires",
    ),
    pytest.param(
        200, None, {"expires": DATE_PLUS_60, "date": DATE}, fresh(60.0), id="expires-minus-date"
    ),
    pytest.param(
        200,
        None,
        {"expires": DATE_PLUS_60, "date": DATE_MINUS_60},
        fresh(120.0),
        id="expires-minus-date-120",
    ),
    pytest.param(
        200, None, {"expires": DATE_MINUS_60, "date": DATE}, fresh(0.0), id="expires-in-the-past"
    ),
    pytest.param(200, None, {"expires": DATE, "date": DATE}, fresh(0.0), id="expires-equals-date"),
    # §5.3: an invalid Expires (e.g. "0") means already expired, not "no Expires".
    pytest.param(200, None, {"expires": "0", "date": DATE}, fresh(0.0), id="invalid-expires"),
    pytest.param(200, None, {"expires": "", "date": DATE}, fresh(0.0), id="empty-expires"),
    pytest.param(200, None, {"expires": DATE, "date": "yesterday"}, fresh(0.0), id="bad-date"),
    pytest.param(200, None, {"expires": DATE_PLUS_60}, fresh(0.0), id="expires-without-date"),
    pytest.param(200, None, {"date": DATE}, fresh(2.0), id="date-alone-is-no-lifetime"),
    # No explicit lifetime: the edge's defaults, by status.
    pytest.param(200, None, {}, fresh(2.0), id="200-default-ttl"),
    pytest.param(203, "", {}, fresh(2.0), id="203-default-ttl"),
    pytest.param(200, "public", {}, fresh(2.0), id="public-default-ttl"),
    pytest.param(404, None, {}, fresh(5.0), id="404-error-ttl"),
    pytest.param(410, None, {}, fresh(5.0), id="410-error-ttl"),
    pytest.param(301, None, {}, fresh(5.0), id="301-error-ttl"),
    pytest.param(204, None, {}, fresh(5.0), id="204-error-ttl"),
    pytest.param(501, None, {}, NOT_STORED, id="501-is-5xx"),
    pytest.param(404, "max-age=60", {}, fresh(60.0), id="404-explicit-lifetime"),
    pytest.param(206, None, {}, NOT_STORED, id="206-not-heuristic"),
    pytest.param(302, None, {}, NOT_STORED, id="302-not-heuristic"),
    pytest.param(307, None, {}, NOT_STORED, id="307-not-heuristic"),
    pytest.param(403, None, {}, NOT_STORED, id="403-not-heuristic"),
    pytest.param(302, "max-age=30", {}, fresh(30.0), id="302-explicit-max-age"),
    pytest.param(206, "s-maxage=30", {}, fresh(30.0, 0.0), id="206-explicit-s-maxage"),
    pytest.param(302, None, {"expires": DATE_PLUS_60, "date": DATE}, fresh(60.0), id="302-expires"),
    # Never stored.
    pytest.param(500, "max-age=60", {}, NOT_STORED, id="500-never-stored"),
    pytest.param(503, None, {}, NOT_STORED, id="503-never-stored"),
    pytest.param(502, "stale-if-error=60", {}, NOT_STORED, id="502-never-stored"),
    pytest.param(200, "no-store", {}, NOT_STORED, id="no-store"),
    pytest.param(200, "max-age=60, no-store", {}, NOT_STORED, id="no-store-beats-max-age"),
    pytest.param(200, "private, max-age=60", {}, NOT_STORED, id="private"),
    pytest.param(200, 'private="Set-Cookie"', {}, NOT_STORED, id="qualified-private"),
    pytest.param(404, "no-store", {}, NOT_STORED, id="404-no-store"),
    # Age (§4.2.3) is subtracted from the lifetime, never below zero.
    pytest.param(200, "max-age=60", {"age": "15"}, fresh(45.0), id="age-subtracted"),
    pytest.param(200, "max-age=60", {"age": "600"}, fresh(0.0), id="age-beyond-lifetime"),
    pytest.param(200, None, {"age": "1"}, fresh(1.0), id="age-from-default-ttl"),
    pytest.param(200, "max-age=60", {"age": "abc"}, fresh(60.0), id="invalid-age-ignored"),
    pytest.param(200, "max-age=60", {"age": '"10"'}, fresh(50.0), id="quoted-age"),
    pytest.param(
        200, None, {"expires": DATE_PLUS_60, "date": DATE, "age": "20"}, fresh(40.0), id="age-exp"
    ),
    # RFC 5861 stale-if-error: explicit permission, capped by the edge.
    pytest.param(200, "max-age=60, stale-if-error=120", {}, fresh(60.0, 120.0), id="sie"),
    pytest.param(200, "stale-if-error=0", {}, fresh(2.0, 0.0), id="sie-zero"),
    pytest.param(200, "stale-if-error=86400", {}, fresh(2.0, 300.0), id="sie-capped"),
    pytest.param(
        200, "max-age=60, must-revalidate", {}, fresh(60.0, 0.0), id="must-revalidate-no-stale"
    ),
    pytest.param(
        200, "max-age=60, proxy-revalidate", {}, fresh(60.0, 0.0), id="proxy-revalidate-no-stale"
    ),
    pytest.param(
        200,
        "must-revalidate, stale-if-error=60",
        {},
        fresh(2.0, 60.0),
        id="explicit-sie-beats-must-revalidate",
    ),
    pytest.param(
        200, "s-maxage=10, stale-if-error=60", {}, fresh(10.0, 60.0), id="explicit-sie-s-maxage"
    ),
    pytest.param(
        200, "no-cache, stale-if-error=60", {}, fresh(0.0, 60.0), id="explicit-sie-no-cache"
    ),
    pytest.param(404, None, {}, fresh(5.0), id="404-default-stale"),
    pytest.param(
        200, "stale-if-error=10, stale-if-error=100", {}, fresh(2.0, 10.0), id="sie-first-wins"
    ),
    # RFC 9111 §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an
    # explicit in-protocol directive (e.g., by a no-cache response directive, ...)".
    pytest.param(200, "no-cache", {}, fresh(0.0, 0.0), id="no-cache-forbids-default-stale"),
    # Malformed numbers are zero, not errors and not the default.
    pytest.param(200, "max-age=soon", {}, fresh(0.0), id="malformed-max-age"),
    pytest.param(200, "s-maxage=-5", {}, fresh(0.0, 0.0), id="malformed-s-maxage"),
    pytest.param(200, "max-age=60", {"age": "\u00b2"}, fresh(60.0), id="superscript-age"),
]


@pytest.mark.parametrize(("status", "cache_control", "extra", "expected"), FRESHNESS_CASES)
def test_freshness(
    status: int, cache_control: str | None, extra: dict[str, str], expected: Freshness
) -> None:
    assert freshness(status, cache_control, POLICY, **extra) == expected


@pytest.mark.parametrize(
    ("status", "cache_control"),
    [
        (200, "no-cache"),
        (200, "no-cache, max-age=60"),
        (200, "max-age=60, NO-CACHE"),
        (200, 'no-cache="Set-Cookie", s-maxage=60'),
        (404, "no-cache"),
        (302, "no-cache, max-age=60"),
    ],
)
def test_no_cache_is_stored_but_never_fresh(status: int, cache_control: str) -> None:
    """§5.2.2.4: no-cache lets a cache store the response, but not reuse it unvalidated."""
    result = freshness(status, cache_control, POLICY)
    assert (result.store, result.ttl) == (True, 0.0)


def test_no_cache_without_a_lifetime_is_not_stored_for_uncacheable_codes() -> None:
    assert freshness(302, "no-cache", POLICY) == NOT_STORED


def test_zero_policy_means_no_default_lifetime_or_stale() -> None:
    zero = CachePolicy(default_ttl=0.0, error_ttl=0.0, stale_if_error=0.0, max_stale_if_error=0.0)
    assert freshness(200, None, zero) == Freshness(store=True, ttl=0.0, stale_if_error=0.0)
    assert freshness(200, "stale-if-error=60", zero).stale_if_error == 0.0


# ---------------------------------------------------------------------------------------
# Property: whatever the origin sends, the result is coherent.

_directive = st.sampled_from(
    [
        "max-age",
        "s-maxage",
        "no-store",
        "no-cache",
        "private",
        "public",
        "must-revalidate",
        "proxy-revalidate",
        "stale-if-error",
        "MAX-AGE",
        "",
    ]
)
_argument = st.one_of(
    st.just(""),
    st.integers(min_value=-10, max_value=10**12).map(lambda n: f"={n}"),
    st.text(max_size=8).map(lambda s: f"={s}"),
)
header_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.lists(st.tuples(_directive, _argument).map("".join), max_size=5).map(", ".join),
)
statuses = st.integers(min_value=100, max_value=599)
dates = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from([DATE, DATE_PLUS_60, DATE_MINUS_60, "Sun, 06 Nov 1994 08:49:37 +0000"]),
)
ages = st.one_of(st.none(), st.text(max_size=10), st.integers(0, 10**6).map(str))


@settings(max_examples=300, deadline=None)
@given(status=statuses, cache_control=header_values, expires=dates, date=dates, age=ages)
@example(status=200, cache_control="max-age=\u00b2", expires=None, date=None, age=None)
def test_freshness_is_coherent(
    status: int, cache_control: str | None, expires: str | None, date: str | None, age: str | None
) -> None:
    result = freshness(status, cache_control, POLICY, expires=expires, date=date, age=age)
    assert result.ttl >= 0
    assert result.stale_if_error >= 0
    assert result.stale_if_error <= max(POLICY.stale_if_error, POLICY.max_stale_if_error)
    if not result.store:
        assert result.ttl == 0
        assert result.stale_if_error == 0
    if status >= 500:
        assert not result.store
