"""The base of every edit: a frozen, tagged msgspec Struct (edits are data)."""

import msgspec


class Edit(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    """An edit of a playlist; concrete edits set ``tag=`` and repeat ``frozen=True``."""
