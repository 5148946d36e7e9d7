"""The base of every edit: a frozen, tagged msgspec Struct (edits are data)."""

import msgspec


class Edit(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind", gc=False):
    """An edit of a playlist; concrete edits set ``tag=`` and repeat ``frozen=True``.

    Edits are frozen values built from strings, numbers and tuples of frozen values, so they
    can be in no reference cycle: they stay out of the cyclic collector (``gc=False``, which
    subclasses inherit), whose full passes would otherwise walk every cached plan and every
    live session's history."""
