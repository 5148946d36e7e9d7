"""Rendition edits of a multivariant playlist: add a rendition, prefer languages or
accessibility renditions, drop renditions (RFC 8216 §4.3.4.1, BIS §4.4.6.1; SPEC_RULES 60-66).

Every edit works on each Group of Renditions of one TYPE (BIS §4.4.6.1.1) and keeps its
rules: NAMEs unique, at most one DEFAULT=YES, AUTOSELECT=YES wherever DEFAULT=YES. Parallel
groups (``audio-lo``/``audio-hi``) get the same change, so their member sets stay equal
(SPEC_RULES 64). Rewritten tags are written canonically; every other line is kept as it was.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal, NamedTuple

import msgspec

from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.lines import Line, classify, tag
from edge_assembler.core.hls.model import Item, MultivariantPlaylist, Variant

RenditionType = Literal["AUDIO", "SUBTITLES"]
# RFC 5646 language tag (lenient on case); used for LANGUAGE values an edit receives.
LangTag = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")]
# RFC 8216 §4.2: a quoted-string has no CR, LF or double quote.
Text = Annotated[str, msgspec.Meta(min_length=1, pattern=r'^[^"\r\n]*$')]
Bandwidth = Annotated[int, msgspec.Meta(gt=0)]

MEDIA = "EXT-X-MEDIA"
I_FRAME = "EXT-X-I-FRAME-STREAM-INF"
NEW_SUBTITLES_GROUP = "subs"
# BIS §4.4.6.1 CHARACTERISTICS: audio description, and subtitles for the deaf and hard of
# hearing (SDH: dialogue plus music and sound).
DESCRIBES_VIDEO = frozenset({"public.accessibility.describes-video"})
SDH = frozenset(
    {
        "public.accessibility.transcribes-spoken-dialog",
        "public.accessibility.describes-music-and-sound",
    }
)
ACCESSIBILITY = DESCRIBES_VIDEO | SDH
# RFC 5646 §2.2.1 asks for the shortest ISO 639 code, but packagers often write ISO 639-2
# (Apple's bipbop: LANGUAGE="eng"); both forms are compared as ISO 639-1.
ISO_639_2 = {
    "ara": "ar", "baq": "eu", "ben": "bn", "bul": "bg", "cat": "ca", "ces": "cs", "chi": "zh",
    "cym": "cy", "cze": "cs", "dan": "da", "deu": "de", "dut": "nl", "ell": "el", "eng": "en",
    "est": "et", "eus": "eu", "fas": "fa", "fin": "fi", "fra": "fr", "fre": "fr", "ger": "de",
    "gle": "ga", "glg": "gl", "gre": "el", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu",
    "ice": "is", "ind": "id", "isl": "is", "ita": "it", "jpn": "ja", "kor": "ko", "lav": "lv",
    "lit": "lt", "may": "ms", "msa": "ms", "nld": "nl", "nob": "nb", "nno": "nn", "nor": "no",
    "per": "fa", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru", "slk": "sk",
    "slo": "sk", "slv": "sl", "spa": "es", "srp": "sr", "swe": "sv", "tam": "ta", "tel": "te",
    "tha": "th", "tur": "tr", "ukr": "uk", "urd": "ur", "vie": "vi", "wel": "cy", "zho": "zh",
}  # fmt: skip


class Rendition(NamedTuple):
    """An EXT-X-MEDIA tag at ``position`` in the playlist items."""

    position: int
    line: Line
    attrs: Attributes

    @property
    def group(self) -> str:
        return self.attrs.get("GROUP-ID") or ""

    @property
    def name(self) -> str | None:
        return self.attrs.get("NAME")

    @property
    def language(self) -> str | None:
        return self.attrs.get("LANGUAGE")

    @property
    def default(self) -> bool:
        return _yes(self.attrs, "DEFAULT")

    @property
    def forced(self) -> bool:
        return _yes(self.attrs, "FORCED")

    @property
    def characteristics(self) -> frozenset[str]:
        return frozenset(_split(self.attrs.get("CHARACTERISTICS")))


def _yes(attrs: Attributes, name: str) -> bool:
    return (attrs.get(name) or "").upper() == "YES"


def renditions(playlist: MultivariantPlaylist) -> list[Rendition]:
    return [
        Rendition(i, item, parse_attributes(item.value, item.number))
        for i, item in enumerate(playlist.items)
        if isinstance(item, Line) and item.name == MEDIA
    ]


def groups(playlist: MultivariantPlaylist, media_type: str) -> dict[str, list[Rendition]]:
    """The Groups of Renditions of one TYPE by GROUP-ID, in playlist order."""
    out: dict[str, list[Rendition]] = {}
    for rendition in renditions(playlist):
        if rendition.attrs.get("TYPE") == media_type:
            out.setdefault(rendition.group, []).append(rendition)
    return out


def rewrite(line: Line, changes: Mapping[str, str | None], crlf: bool) -> Line:
    """``line`` with attributes changed (None removes), written canonically; the very same
    line when the changes change nothing."""
    attrs = parse_attributes(line.value, line.number)
    changed = attrs.replace(changes)
    if changed == attrs:
        return line
    return classify(tag(line.name, changed.format(), crlf=crlf))


def _changes_for_default(member: Rendition, chosen: bool) -> dict[str, str]:
    if not chosen:
        return {"DEFAULT": "NO"} if member.default else {}
    # BIS §4.4.6.1: if AUTOSELECT is present it MUST be YES when DEFAULT=YES.
    autoselect = member.attrs.get("AUTOSELECT")
    if member.default:
        return {"AUTOSELECT": "YES"} if autoselect not in (None, "YES") else {}
    return {"DEFAULT": "YES", "AUTOSELECT": "YES"}


def _make_default(
    items: list[Item | None], members: Iterable[Rendition], chosen: Rendition, crlf: bool
) -> None:
    """``chosen`` becomes the one DEFAULT=YES member of its group (BIS §4.4.6.1.1)."""
    for member in members:
        changes = _changes_for_default(member, member.position == chosen.position)
        if changes:
            items[member.position] = rewrite(member.line, changes, crlf)


def _finish(playlist: MultivariantPlaylist, items: list[Item | None]) -> MultivariantPlaylist:
    kept = tuple(item for item in items if item is not None)
    return playlist if kept == playlist.items else playlist.evolve(items=kept)


# -- languages (RFC 5646 tags, RFC 4647 matching) ---------------------------------------


def language(value: str) -> tuple[str, str]:
    """A language tag as (normalised tag, primary language subtag), lower case."""
    subtags = value.strip().replace("_", "-").lower().split("-")
    primary = ISO_639_2.get(subtags[0], subtags[0])
    return "-".join([primary, *subtags[1:]]), primary


Rank = tuple[int, int]


def _primary(member: Rendition) -> str | None:
    return language(member.language)[1] if member.language else None


def _rank(value: str | None, wanted: Sequence[tuple[str, str]]) -> Rank:
    """(index of the first preference matched, 0 for the whole tag or 1 for the primary
    subtag); (len(wanted), 0) when none is."""
    if value:
        full, primary = language(value)
        for i, (want_full, want_primary) in enumerate(wanted):
            if full == want_full:
                return i, 0
            if primary == want_primary:
                return i, 1
    return len(wanted), 0


def _filtered(value: str | None, ranges: Sequence[str]) -> bool:
    """RFC 4647 §3.3.1 basic filtering: "fr" matches "fr" and "fr-CA", not the reverse."""
    if not value:
        return False
    full = language(value)[0]
    return any(full == r or full.startswith(r + "-") for r in ranges)


# -- AddRendition ------------------------------------------------------------------------


class AddRendition(Edit, tag="add_rendition", frozen=True):
    """Add an EXT-X-MEDIA to one group (``group_id``) or to every group of ``type``.

    The new tag goes after the group's last member. A NAME already used in a target group
    is refused (BIS §4.4.6.1.1). ``default`` makes it the group's only DEFAULT=YES member.
    ``bandwidth`` is the new rendition's peak bit rate: every variant using a target group
    gets BANDWIDTH (and AVERAGE-BANDWIDTH) raised by it, an upper bound of what the new
    combinations need since the old value covers the rest of the variant (SPEC_RULES 61).
    ``codecs`` are the new rendition's formats ("ec-3"); those a variant using a target
    group does not list yet are appended to its CODECS (BIS §4.4.6.1.1, SPEC_RULES 30).
    SUBTITLES may be added to a playlist with no subtitle group: the group (``group_id`` or
    "subs") is created and referenced from every variant.
    """

    type: RenditionType
    group_id: Text | None
    language: LangTag
    name: Text
    uri: Text
    default: bool = False
    autoselect: bool = True
    characteristics: Text | None = None
    channels: Text | None = None
    assoc_language: LangTag | None = None
    forced: bool = False
    bandwidth: Bandwidth | None = None
    codecs: Text | None = None

    def __post_init__(self) -> None:
        # BIS §4.4.6.1: AUTOSELECT MUST be YES when DEFAULT=YES; FORCED only on SUBTITLES;
        # CHANNELS only on AUDIO.
        if self.default and not self.autoselect:
            raise EditError("a DEFAULT rendition must also be AUTOSELECT")
        if self.forced and self.type != "SUBTITLES":
            raise EditError("FORCED applies to SUBTITLES only")
        if self.channels is not None and self.type != "AUDIO":
            raise EditError("CHANNELS applies to AUDIO only")

    def tag_for(self, group_id: str, crlf: bool) -> Line:
        yes_no = {True: "YES", False: "NO"}
        optional = {
            "LANGUAGE": self.language,
            "ASSOC-LANGUAGE": self.assoc_language,
            "NAME": self.name,
            "DEFAULT": yes_no[self.default],
            "AUTOSELECT": yes_no[self.autoselect],
            "FORCED": "YES" if self.forced else None,
            "CHARACTERISTICS": self.characteristics,
            "CHANNELS": self.channels,
            "URI": self.uri,
        }
        attrs = [("TYPE", self.type), ("GROUP-ID", group_id)]
        attrs += [(name, value) for name, value in optional.items() if value is not None]
        return classify(tag(MEDIA, Attributes(attrs).format(), crlf=crlf))


def apply_add_rendition(playlist: MultivariantPlaylist, edit: AddRendition) -> MultivariantPlaylist:
    existing = groups(playlist, edit.type)
    if not existing and edit.type == "SUBTITLES":
        return _add_subtitles_group(playlist, edit)
    targets = _targets(existing, edit)
    items: list[Item | None] = list(playlist.items)
    after: dict[int, Line] = {}
    for group_id in targets:
        members = existing[group_id]
        if any(member.name == edit.name for member in members):
            raise EditError(f'{edit.type} group "{group_id}" already has NAME "{edit.name}"')
        after[members[-1].position] = edit.tag_for(group_id, playlist.crlf)
        if edit.default:
            for member in members:
                if member.default:
                    items[member.position] = rewrite(member.line, {"DEFAULT": "NO"}, playlist.crlf)
    _update_variants(items, edit, set(targets), playlist.crlf)
    return _finish(playlist, _insert_after(items, after))


def _targets(existing: Mapping[str, list[Rendition]], edit: AddRendition) -> list[str]:
    if edit.group_id is None:
        if not existing:
            # The audio is muxed into the variants: there is no group to add an alternative to.
            raise EditError(f"no {edit.type} group to add a rendition to")
        return list(existing)
    if edit.group_id not in existing:
        raise EditError(f'no {edit.type} group "{edit.group_id}"')
    return [edit.group_id]


def _insert_after(items: list[Item | None], after: Mapping[int, Line]) -> list[Item | None]:
    out: list[Item | None] = []
    for i, item in enumerate(items):
        out.append(item)
        if i in after:
            out.append(after[i])
    return out


def _update_variants(
    items: list[Item | None], edit: AddRendition, targets: set[str], crlf: bool
) -> None:
    """Raise BANDWIDTH and extend CODECS of the variants using a target group."""
    for i, item in enumerate(items):
        if isinstance(item, Variant):
            attrs = item.attributes()
            if attrs.get(edit.type) in targets:
                changes = _bandwidth_changes(attrs, edit.bandwidth or 0)
                changes.update(_codecs_changes(attrs, edit.codecs))
                if changes:
                    items[i] = item._replace(tag=rewrite(item.tag, changes, crlf))


def _bandwidth_changes(attrs: Attributes, extra: int) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for name in ("BANDWIDTH", "AVERAGE-BANDWIDTH"):
        value = attrs.number(name)
        if value is not None and extra:
            changes[name] = str(int(value) + extra)
    return changes


def _codecs_changes(attrs: Attributes, codecs: str | None) -> dict[str, str | None]:
    listed = _split(attrs.get("CODECS"))
    known = {c.lower() for c in listed}
    new = [c for c in _split(codecs) if c.lower() not in known]
    return {"CODECS": ",".join(listed + new)} if new and listed else {}


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _add_subtitles_group(
    playlist: MultivariantPlaylist, edit: AddRendition
) -> MultivariantPlaylist:
    """A first SUBTITLES group, placed after the last EXT-X-MEDIA (or before the first
    variant) and referenced from every EXT-X-STREAM-INF (I-frame variants take no
    SUBTITLES, BIS §4.4.6.3)."""
    group_id = edit.group_id or NEW_SUBTITLES_GROUP
    items: list[Item | None] = []
    for item in playlist.items:
        if isinstance(item, Variant):
            item = item._replace(tag=rewrite(item.tag, {"SUBTITLES": group_id}, playlist.crlf))
        items.append(item)
    media = [i for i, item in enumerate(items) if isinstance(item, Line) and item.name == MEDIA]
    position = media[-1] + 1 if media else _first_variant(items)
    items.insert(position, edit.tag_for(group_id, playlist.crlf))
    return _finish(playlist, items)


def _first_variant(items: Sequence[Item | None]) -> int:
    for i, item in enumerate(items):
        if isinstance(item, Variant) or (isinstance(item, Line) and item.name == I_FRAME):
            return i
    return len(items)


# -- PreferLanguages ---------------------------------------------------------------------


class PreferLanguages(Edit, tag="prefer_languages", frozen=True):
    """Make the best match for ``languages`` (in order of preference) the DEFAULT of every
    group of ``type``, and with ``reorder`` list the matching members first, best first.

    A member matches a preference by its whole tag, else by its primary language subtag,
    case-insensitively, ISO 639-2 codes read as ISO 639-1 ("eng" is "en"). Among equal
    matches the current default stays, then a member without accessibility characteristics
    wins, then the first listed. A FORCED=YES subtitle is never made the DEFAULT while the
    group has other members: clients show forced subtitles for the playback language on
    their own (BIS §4.4.6.1 FORCED), and DEFAULT=YES would make them the chosen subtitle
    track. A group where nothing matches is left as it is. For SUBTITLES a DEFAULT is shown
    from the start: prefer subtitle languages only for a viewer who wants subtitles.
    """

    type: RenditionType
    languages: tuple[LangTag, ...]
    reorder: bool = True


def apply_prefer_languages(
    playlist: MultivariantPlaylist, edit: PreferLanguages
) -> MultivariantPlaylist:
    wanted = [language(value) for value in edit.languages]
    items: list[Item | None] = list(playlist.items)
    for members in groups(playlist, edit.type).values():
        ranks = {member.position: _rank(member.language, wanted) for member in members}
        matched = [member for member in members if ranks[member.position][0] < len(wanted)]
        if not matched:
            continue
        chosen = _default_candidate(members, matched, ranks)
        if chosen is not None:
            _make_default(items, members, chosen, playlist.crlf)
        if edit.reorder:
            _reorder(items, members, ranks, len(wanted))
    return _finish(playlist, items)


def _default_candidate(
    members: Sequence[Rendition], matched: Sequence[Rendition], ranks: Mapping[int, Rank]
) -> Rendition | None:
    """The best matching member that may be DEFAULT (FORCED=YES members only when the
    group has nothing else): the current default, then one without accessibility
    characteristics, then the first listed, among equal matches."""
    everyday = [member for member in matched if not member.forced]
    if not everyday and any(not member.forced for member in members):
        return None

    def key(member: Rendition) -> tuple[int, int, bool, bool, int]:
        special = bool(member.characteristics & ACCESSIBILITY)
        return *ranks[member.position], not member.default, special, member.position

    return min(everyday or matched, key=key)


def _reorder(
    items: list[Item | None], members: Sequence[Rendition], ranks: Mapping[int, Rank], n: int
) -> None:
    """Matching members first, by preference (FORCED and accessibility renditions after
    the others of the same match), the rest in their order. The members are permuted over
    the places they occupy, so lines between them (other groups, comments) stay put. The
    order does not depend on DEFAULT, so a second run changes nothing."""

    def key(member: Rendition) -> tuple[int, int, bool, bool, int]:
        if ranks[member.position][0] == n:
            return n, 0, False, False, member.position
        special = bool(member.characteristics & ACCESSIBILITY)
        return *ranks[member.position], member.forced, special, member.position

    moved = [items[member.position] for member in sorted(members, key=key)]
    for member, item in zip(members, moved, strict=True):
        items[member.position] = item


# -- DropRenditions ----------------------------------------------------------------------


class DropRenditions(Edit, tag="drop_renditions", frozen=True):
    """Drop the members of every group of ``type`` whose LANGUAGE matches one of
    ``languages`` (RFC 4647 basic filtering: "fr" drops "fr-CA" too) or whose NAME is in
    ``names``.

    With ``keep_at_least_one`` a group keeps its DEFAULT (else its first) member rather than
    becoming empty; without it an emptied group disappears and so does every reference to
    it from EXT-X-STREAM-INF and EXT-X-I-FRAME-STREAM-INF tags (SPEC_RULES 62). When the
    DEFAULT member goes, the best remaining member becomes DEFAULT (SPEC_RULES 63): not
    FORCED, then AUTOSELECT=YES, then in the lost default's primary language, then first.
    CODECS are left as they are: a format no rendition carries any longer makes a client
    without that decoder skip the variant, never fail during playback.
    """

    type: RenditionType
    languages: tuple[LangTag, ...] = ()
    names: tuple[Text, ...] = ()
    keep_at_least_one: bool = True


def apply_drop_renditions(
    playlist: MultivariantPlaylist, edit: DropRenditions
) -> MultivariantPlaylist:
    ranges = [language(value)[0] for value in edit.languages]
    items: list[Item | None] = list(playlist.items)
    emptied: set[str] = set()
    for group_id, members in groups(playlist, edit.type).items():
        dropped = [m for m in members if m.name in edit.names or _filtered(m.language, ranges)]
        if not dropped:
            continue
        if len(dropped) == len(members) and edit.keep_at_least_one:
            spare = next((m for m in members if m.default), members[0])
            dropped.remove(spare)
        for member in dropped:
            items[member.position] = None
        kept = [member for member in members if member not in dropped]
        if not kept:
            emptied.add(group_id)
        elif any(m.default for m in dropped) and not any(m.default for m in kept):
            heir = _heir(kept, next(m for m in dropped if m.default))
            _make_default(items, [heir], heir, playlist.crlf)
    if emptied:
        _unreference(items, edit.type, emptied, playlist.crlf)
    return _finish(playlist, items)


def _heir(kept: Sequence[Rendition], lost: Rendition) -> Rendition:
    # AUTOSELECT=NO members are for explicit choice only (BIS §4.4.6.1): not a fallback.
    def key(member: Rendition) -> tuple[bool, bool, bool, int]:
        autoselect = _yes(member.attrs, "AUTOSELECT")
        return member.forced, not autoselect, _primary(member) != _primary(lost), member.position

    return min(kept, key=key)


def _unreference(items: list[Item | None], attribute: str, emptied: set[str], crlf: bool) -> None:
    """Remove ``attribute`` from every variant tag that names an emptied group."""
    for i, item in enumerate(items):
        if isinstance(item, Variant) and item.attributes().get(attribute) in emptied:
            items[i] = item._replace(tag=rewrite(item.tag, {attribute: None}, crlf))
        elif isinstance(item, Line) and item.name == I_FRAME:
            attrs = parse_attributes(item.value, item.number)
            if attrs.get(attribute) in emptied:
                items[i] = rewrite(item, {attribute: None}, crlf)


# -- PreferAccessibility -----------------------------------------------------------------


class PreferAccessibility(Edit, tag="prefer_accessibility", frozen=True):
    """Make an audio-description rendition (CHARACTERISTICS with
    public.accessibility.describes-video) the DEFAULT of every AUDIO group, and/or an SDH
    subtitle (transcribes-spoken-dialog and describes-music-and-sound) the DEFAULT of every
    SUBTITLES group (BIS §4.4.6.1 CHARACTERISTICS). Among several, the one in the primary
    language of the current DEFAULT wins, then the first listed; FORCED subtitles are not
    candidates. Groups without such a member are left as they are.
    """

    audio_description: bool = False
    sdh: bool = False


def apply_prefer_accessibility(
    playlist: MultivariantPlaylist, edit: PreferAccessibility
) -> MultivariantPlaylist:
    wanted = {"AUDIO": edit.audio_description, "SUBTITLES": edit.sdh}
    needed = {"AUDIO": DESCRIBES_VIDEO, "SUBTITLES": SDH}
    items: list[Item | None] = list(playlist.items)
    for media_type in (t for t, on in wanted.items() if on):
        for members in groups(playlist, media_type).values():
            fits = [m for m in members if not m.forced and needed[media_type] <= m.characteristics]
            if fits:
                _make_default(items, members, _closest(fits, members), playlist.crlf)
    return _finish(playlist, items)


def _closest(fits: Sequence[Rendition], members: Sequence[Rendition]) -> Rendition:
    current = next((m for m in members if m.default), None)
    if current is None:
        return fits[0]
    if current in fits:
        return current
    return min(fits, key=lambda m: (_primary(m) != _primary(current), m.position))
