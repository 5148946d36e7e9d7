"""Edits of an MPD: the plan's edit Structs (``core.edits``) applied to an ``Mpd``.

Each function takes the parsed MPD, the edit and (where the edit reads other manifests)
the fetched source MPDs by key, and returns a new ``Mpd``: the input's tree is never
touched. Periods: ``splice`` (InsertRun), ``replace_break`` (ReplaceBreak), ``trim`` (Trim),
``compose`` (Compose), on the Period machinery of ``periods``.
"""

from edge_assembler.core.dash.edits.compose import apply_compose
from edge_assembler.core.dash.edits.replace_break import apply_replace_break
from edge_assembler.core.dash.edits.splice import apply_insert_run
from edge_assembler.core.dash.edits.trim import apply_trim

__all__ = [
    "apply_compose",
    "apply_insert_run",
    "apply_replace_break",
    "apply_trim",
]
