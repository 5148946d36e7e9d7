"""The viewer context: everything the rules may know about one request (DESIGN §2).

The shell builds it once per request (query > headers, the signed session token, the
geo header, the clock) and the core sees only this value. It is frozen and hashable:
mappings are tuples of ``(key, value)`` pairs, in any order (lookups take the first
pair of a key). ``now`` is the only time the core ever reads.
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Device = Literal["phone", "tablet", "desktop", "tv", "unknown"]
# "audio-description": describes-video audio; "sdh": subtitles for the deaf and hard of
# hearing (captions) (BIS §4.4.6.1 CHARACTERISTICS).
Need = Literal["audio-description", "sdh"]
# ISO 3166-1 alpha-2, upper case.
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
LangTag = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
Pairs = tuple[tuple[str, str], ...]


class ViewerContext(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One viewer's request, as the rules see it."""

    path: str
    now: Instant  # aware; the only clock of the core
    stream_id: str = ""
    session_id: str = ""
    country: Country | None = None
    device: Device = "unknown"
    languages: tuple[LangTag, ...] = ()  # preference order, best first
    accessibility: tuple[Need, ...] = ()
    consent: tuple[str, ...] = ()  # flags the viewer granted, e.g. "ads-personalised"
    session_length_hint: Seconds | None = None
    history: Pairs = ()  # viewing history hints, e.g. ("last_episode", "s01e03")
    choices: Pairs = ()  # the viewer's choices, e.g. ("branch", "north")
    interests: tuple[str, ...] = ()
    exposures: tuple[tuple[str, int], ...] = ()  # asset id or tag -> times shown this session
    session_start: Instant | None = None

    def hint(self, namespace: Literal["history", "choice"], key: str) -> str | None:
        """The value of a history hint or of a choice, ``None`` when absent."""
        pairs = self.history if namespace == "history" else self.choices
        for name, value in pairs:
            if name == key:
                return value
        return None
