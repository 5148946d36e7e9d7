"""Edits of an MPD: the plan's edit Structs applied to a DASH presentation."""
