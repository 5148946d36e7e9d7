"""The small error tree: each error carries a status hint, a reason code and a message."""

import pytest

from edge_assembler.core.errors import (
    BadRequest,
    EdgeError,
    NotFound,
    OriginError,
    OriginTimeout,
    OriginTooLarge,
)

# (class, status hint, ancestors within the tree)
TREE = [
    pytest.param(BadRequest, 400, (EdgeError,), id="BadRequest"),
    pytest.param(NotFound, 404, (EdgeError,), id="NotFound"),
    pytest.param(OriginError, 502, (EdgeError,), id="OriginError"),
    pytest.param(OriginTimeout, 504, (OriginError, EdgeError), id="OriginTimeout"),
    pytest.param(OriginTooLarge, 502, (OriginError, EdgeError), id="OriginTooLarge"),
]


@pytest.mark.parametrize(("cls", "status", "ancestors"), TREE)
def test_error_carries_reason_message_and_status(
    cls: type[EdgeError], status: int, ancestors: tuple[type[EdgeError], ...]
) -> None:
    exc = cls("some_reason", "what went wrong")
    assert exc.reason == "some_reason"
    assert str(exc) == "what went wrong"
    assert exc.args == ("what went wrong",)
    assert exc.status_hint == status
    assert cls.status_hint == status
    for ancestor in (*ancestors, Exception):
        assert isinstance(exc, ancestor)


@pytest.mark.parametrize(("cls", "status", "ancestors"), TREE)
def test_error_is_caught_by_its_ancestors(
    cls: type[EdgeError], status: int, ancestors: tuple[type[EdgeError], ...]
) -> None:
    for ancestor in ancestors:
        with pytest.raises(ancestor) as info:
            raise cls("r", "m")
        assert type(info.value) is cls
        assert info.value.status_hint == status


def test_siblings_are_distinct() -> None:
    assert not issubclass(BadRequest, OriginError)
    assert not issubclass(NotFound, OriginError)
    assert not issubclass(OriginError, BadRequest)
    assert not issubclass(OriginTimeout, OriginTooLarge)
    assert not issubclass(OriginTooLarge, OriginTimeout)
    assert not issubclass(EdgeError, BadRequest)


def test_edge_error_is_not_raised_directly() -> None:
    with pytest.raises(TypeError, match="EdgeError directly"):
        EdgeError("reason", "message")


def test_edge_error_default_status_hint() -> None:
    assert EdgeError.status_hint == 500


def test_subclass_outside_the_module_may_be_instantiated() -> None:
    class Teapot(EdgeError):
        status_hint = 418

    exc = Teapot("teapot", "short and stout")
    assert (exc.reason, str(exc), exc.status_hint) == ("teapot", "short and stout", 418)
