"""Numbering arithmetic of live break replacement (SPEC_RULES 9-13, 55-58; DESIGN §4).

HLS numbers segments implicitly (RFC 8216 §6.2.2), so a pod whose segment count differs
from the run it replaces shifts the media sequence number (MSN) of every later segment.
The only state this needs is per stream: the breaks seen so far (``BreakRecord``), in
order of ``start_msn`` with at least one kept origin segment between two runs (a detector
merges back-to-back breaks into one), the same for every rendition (their MSNs are
aligned, as LL-HLS rendition reports and blocking requests assume).

The output stream is the origin stream with each break's ``replaced`` segments (origin
MSNs ``start_msn`` ..) replaced by its ``inserted`` pod segments, and every output segment
is *anchored* at the origin MSN whose publication makes it visible:

* a kept origin segment at its own MSN;
* pod segment ``j`` of a break that replaces ``r >= 1`` segments at
  ``start_msn + (j * r) // inserted``: the pod appears as the origin publishes the run
  and slides out as the run does, in proportion;
* every segment of a pod that replaces nothing (``r == 0``) at ``start_msn - 1``: it is
  visible once the segment before it is, so parts of ``start_msn`` follow the pod.

An output window for an origin window whose complete segments are MSNs ``first..last``
lists exactly the output segments anchored in ``first..last``, in output order (the
replacement edit takes the pod indexes from ``pod_window``). It drops the parts and preload
hint of an origin segment that a break replaces. Anchors never decrease along the output
stream, so every window is a contiguous run of it and every number below follows from the
history and the origin window's first MSN alone, identically on every reload and node.

Discontinuities: the replacement writes ``EXT-X-DISCONTINUITY`` on the first pod segment
(the opening seam) and on the first kept segment after the run (the closing seam); an
empty pod has only the closing one. A pod of several creatives (or with slate) also has
the seams between them (``BreakRecord.seams``). The origin's discontinuity sequence is assumed to
count none inside a replaced run or on its closing seam (an encoder's continuous output
around SCTE-35 cues), so the output DISCONTINUITY-SEQUENCE is the origin's plus the seams
that slid out of the window.

Delta updates (BIS §6.2.5.1) keep working: EXT-X-SKIP's SKIPPED-SEGMENTS is translated to
the number of output segments anchored in the skipped origin run, which the player listed
before (the same anchors), so it merges the update as if the edge produced it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import msgspec

from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist


class BreakRecord(msgspec.Struct, frozen=True, gc=False):
    """A break of the stream: origin MSN of the first replaced segment, the number of
    origin segments replaced and of output segments inserted in their place, and the
    indexes (after the first) of the inserted segments that open with a discontinuity of
    their own (a new creative of the pod, the slate). A frozen value every live session
    holds a few of: out of the cyclic collector, as edits are."""

    id: str
    start_msn: int
    replaced: int
    inserted: int
    seams: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if min(self.start_msn, self.replaced, self.inserted) < 0:
            raise ValueError(f"break {self.id!r}: negative MSN or count")
        if self.replaced == 0 and self.start_msn == 0:
            raise ValueError(f"break {self.id!r}: a pod before MSN 0 follows no segment")
        if any(not 0 < j < self.inserted for j in self.seams):
            raise ValueError(f"break {self.id!r}: a seam outside the pod")


@dataclass(frozen=True, slots=True)
class Numbering:
    """EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE of an output window."""

    media_sequence: int
    discontinuity_sequence: int


def anchor(record: BreakRecord, index: int) -> int:
    """The origin MSN whose publication makes pod segment ``index`` visible."""
    if record.replaced == 0:
        return record.start_msn - 1
    return record.start_msn + index * record.replaced // max(record.inserted, 1)


def pod_window(record: BreakRecord, first_msn: int, last_msn: int) -> range:
    """Indexes of the pod segments an origin window of MSNs first..last lists."""
    return range(_pod_index(record, first_msn), _pod_index(record, last_msn + 1))


def _pod_index(record: BreakRecord, msn: int) -> int:
    """The index of the first pod segment anchored at or after ``msn``."""
    if msn <= anchor(record, 0):
        return 0
    if record.replaced == 0:
        return record.inserted
    # Smallest j with start + j*r//p >= msn, i.e. j >= (msn - start) * p / r.
    needed = -(-(msn - record.start_msn) * record.inserted // record.replaced)
    return min(record.inserted, needed)


def msn_offset(history: Sequence[BreakRecord], origin_msn: int) -> int:
    """Sum of (inserted - replaced) over the breaks that ended before ``origin_msn``."""
    return sum(b.inserted - b.replaced for b in history if b.start_msn + b.replaced <= origin_msn)


def output_msn(history: Sequence[BreakRecord], origin_msn: int) -> int:
    """The output MSN of a kept origin segment (SPEC_RULES 9)."""
    return origin_msn + msn_offset(history, origin_msn)


def _first_at(history: Sequence[BreakRecord], msn: int) -> int:
    """The output MSN of the first output segment anchored at or after origin ``msn``."""
    offset = 0
    resume = 0  # the first origin MSN after the runs passed so far
    for record in history:
        if msn >= record.start_msn + max(record.replaced, 1):
            offset += record.inserted - record.replaced  # the whole break is before msn
            continue
        kept = max(msn, resume)
        if kept < record.start_msn:
            return kept + offset
        index = _pod_index(record, msn)
        if index < record.inserted:
            return record.start_msn + offset + index
        offset += record.inserted - record.replaced
        resume = record.start_msn + record.replaced
    return max(msn, resume) + offset


def _locate(history: Sequence[BreakRecord], msn: int) -> tuple[int, BreakRecord | None, int]:
    """An output MSN as (origin MSN, None, 0) for a kept segment, or (start MSN of the
    break, the break, index in its pod) for a pod segment."""
    offset = 0
    for record in history:
        pod_start = record.start_msn + offset
        if msn < pod_start:
            break
        if msn < pod_start + record.inserted:
            return record.start_msn, record, msn - pod_start
        offset += record.inserted - record.replaced
    return msn - offset, None, 0


def origin_msn_for(history: Sequence[BreakRecord], output_msn: int) -> tuple[int, int | None]:
    """The inverse of ``output_msn``: (origin MSN, None) for a kept segment, and
    (``start_msn`` of the break, index in its pod) for an inserted one."""
    origin, record, index = _locate(history, output_msn)
    return origin, None if record is None else index


def _seams(record: BreakRecord, per_break: int) -> tuple[int, int]:
    """DISCONTINUITY tags a break writes: (on its first pod segment, on the closing seam).
    An empty pod joins the two seams into one; a break that changes nothing writes none."""
    if record.inserted == 0:
        return 0, min(per_break, 1) if record.replaced else 0
    return min(per_break, 1), max(per_break - 1, 0)


def _require_order(history: Sequence[BreakRecord]) -> None:
    """The history's precondition (see the module docstring)."""
    for before, after in pairwise(history):
        if after.start_msn <= before.start_msn + before.replaced:
            raise ValueError(f"break {after.id!r} does not follow {before.id!r}")


def numbering(
    origin: MediaPlaylist,
    history: Sequence[BreakRecord],
    discontinuities_per_break: int = 2,
) -> Numbering:
    """The numbering of the output window rewritten from ``origin``.

    MEDIA-SEQUENCE is the output MSN of the first output segment anchored in the window.
    DISCONTINUITY-SEQUENCE is the origin's plus every seam tag that slid out before that
    segment: all of a break whose run ended before the window, the opening one and the
    pod's own before the first listed pod segment when the window starts inside a pod or
    on its closing seam (BIS §6.2.2: the DSN of every segment is invariant across
    reloads).
    """
    if not 0 <= discontinuities_per_break <= 2:
        raise ValueError("a break writes 0, 1 or 2 DISCONTINUITY tags")
    _require_order(history)
    first = origin.media_sequence
    slid = 0
    for record in history:
        opening, closing = _seams(record, discontinuities_per_break)
        if record.start_msn + record.replaced < first:
            slid += opening + len(record.seams) + closing
        elif anchor(record, 0) < first:
            # The window starts inside the pod or on its closing seam.
            listed = _pod_index(record, first)
            slid += opening + sum(1 for j in record.seams if j < listed)
        else:
            break
    return Numbering(_first_at(history, first), origin.discontinuity_sequence + slid)


def translate_blocking_request(
    history: Sequence[BreakRecord], msn: int | None, part: int | None
) -> tuple[int | None, int | None]:
    """A player's ``_HLS_msn``/``_HLS_part`` (output numbering) in origin numbering.

    A pod segment is asked for as the origin segment it is anchored at, without a part:
    the origin answers once it has it (BIS §6.2.5.2), and then the pod segment is listed.
    Waiting for the end of the replaced run instead would hold the player for up to the
    whole break, past the 3 target durations a server may block, and ask the origin for an
    MSN it may refuse as more than two ahead. Without ``_HLS_msn`` there is nothing to
    translate (the request is the server's 400).
    """
    if msn is None:
        return None, part
    origin, record, index = _locate(history, msn)
    if record is None:
        return origin, part
    return anchor(record, index), None


def rendition_report(
    history: Sequence[BreakRecord], last_msn: int, last_part: int | None
) -> tuple[int, int | None]:
    """An origin RENDITION-REPORT's LAST-MSN/LAST-PART in output numbering (SPEC_RULES 58).

    With LAST-PART, LAST-MSN is the segment in progress: kept, it keeps its parts; replaced,
    its parts are not published and the report names the last output segment listed.
    """
    if last_part is None:
        return _first_at(history, last_msn + 1) - 1, None
    if _replacing(history, last_msn):
        return _first_at(history, last_msn) - 1, None
    return output_msn(history, last_msn), last_part


def _replacing(history: Sequence[BreakRecord], msn: int) -> bool:
    return any(b.start_msn <= msn < b.start_msn + b.replaced for b in history)


# -- rewriting the numbers of a window -----------------------------------------------------


def apply_numbering(
    playlist: MediaPlaylist, numbering: Numbering, history: Sequence[BreakRecord]
) -> MediaPlaylist:
    """Write ``numbering`` into a rewritten window that still carries the origin's numbers.

    Rewrites EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE (writing an absent one
    right after EXT-X-TARGETDURATION when its value is not the implicit 0, and the
    DISCONTINUITY-SEQUENCE of a playlist with a discontinuity; SPEC_RULES 8, 11), EXT-X-SKIP
    SKIPPED-SEGMENTS and the RENDITION-REPORT numbers of the tail (SPEC_RULES 56, 58), and
    pins the implicit IVs the new numbers would change (SPEC_RULES 26). Parts and preload
    hints stay with their parent segment; other lines are left byte for byte.
    """
    skipped = playlist.skipped
    if skipped:
        end_of_skip = _first_at(history, playlist.media_sequence + skipped)
        skipped = end_of_skip - numbering.media_sequence
    crlf = playlist.crlf
    head = list(playlist.head)
    first = list(playlist.segments[0].raw if playlist.segments else playlist.tail)
    media, discontinuity = numbering.media_sequence, numbering.discontinuity_sequence
    _write(head, first, "EXT-X-MEDIA-SEQUENCE", media, media != 0, crlf)
    needed = discontinuity != 0 or _has_discontinuity(playlist)
    _write(head, first, "EXT-X-DISCONTINUITY-SEQUENCE", discontinuity, needed, crlf)
    if skipped != playlist.skipped:
        _set_skipped(head, first, skipped, crlf)
    return _explicit_ivs(_rebuild(playlist, head, first, numbering, skipped, history), history)


def _write(
    head: list[str], first: list[str], name: str, value: int, needed: bool, crlf: bool
) -> None:
    """Set the ``name`` tag before the first segment to ``value``, adding it if needed."""
    line = tag(name, str(value), crlf=crlf)
    found = _replace_tag(head, name, value, line) or _replace_tag(first, name, value, line)
    if needed and not found:
        _insert_header(head, first, line)


def _has_discontinuity(playlist: MediaPlaylist) -> bool:
    return any(s.discontinuity for s in playlist.segments)


def _replace_tag(lines: list[str], name: str, value: int, line: str) -> bool:
    """Replace the first ``name`` tag of ``lines`` by ``line`` unless it states ``value``."""
    for i, raw in enumerate(lines):
        if tag_name(raw) == name:
            if raw.removesuffix("\r").partition(":")[2].strip() != str(value):
                lines[i] = line
            return True
    return False


def _insert_header(head: list[str], first: list[str], line: str) -> None:
    """Right after EXT-X-MEDIA-SEQUENCE when there is one (to keep the two together), else
    right after EXT-X-TARGETDURATION: both precede the first segment (SPEC_RULES 8)."""
    for lines in (head, first):
        for after in ("EXT-X-MEDIA-SEQUENCE", "EXT-X-TARGETDURATION"):
            at = next((i for i, raw in enumerate(lines) if tag_name(raw) == after), None)
            if at is not None:
                lines.insert(at + 1, line)
                return
    head.append(line)


def _set_skipped(head: list[str], first: list[str], skipped: int, crlf: bool) -> None:
    for lines in (head, first):
        for i, raw in enumerate(lines):
            if tag_name(raw) == "EXT-X-SKIP":
                line = classify(raw)
                attributes = parse_attributes(line.value, line.number)
                value = attributes.replace({"SKIPPED-SEGMENTS": str(skipped)}).format()
                lines[i] = tag("EXT-X-SKIP", value, crlf=crlf)
                return


def _rebuild(
    playlist: MediaPlaylist,
    head: list[str],
    first: list[str],
    numbering: Numbering,
    skipped: int,
    history: Sequence[BreakRecord],
) -> MediaPlaylist:
    segments = playlist.segments
    tail = tuple(first) if not segments else playlist.tail
    if segments:
        segments = (segments[0]._replace(raw=tuple(first)), *segments[1:])
    return playlist.evolve(
        head=tuple(head),
        segments=segments,
        tail=_reports(tail, history, playlist.crlf),
        media_sequence=numbering.media_sequence,
        discontinuity_sequence=numbering.discontinuity_sequence,
        skipped=skipped,
    )


def _reports(tail: tuple[str, ...], history: Sequence[BreakRecord], crlf: bool) -> tuple[str, ...]:
    """RENDITION-REPORT LAST-MSN/LAST-PART in output numbering (SPEC_RULES 58)."""
    if not history:
        return tail
    return tuple(_report(raw, history, crlf) for raw in tail)


def _report(raw: str, history: Sequence[BreakRecord], crlf: bool) -> str:
    if tag_name(raw) != "EXT-X-RENDITION-REPORT":
        return raw
    line = classify(raw)
    attributes = parse_attributes(line.value, line.number)
    last_msn, last_part = attributes.number("LAST-MSN"), attributes.number("LAST-PART")
    if last_msn is None:
        return raw
    part = None if last_part is None else int(last_part)
    msn, part_now = rendition_report(history, int(last_msn), part)
    if (msn, part_now) == (int(last_msn), part):
        return raw
    changes = {"LAST-MSN": str(msn), "LAST-PART": None if part_now is None else str(part_now)}
    return tag("EXT-X-RENDITION-REPORT", attributes.replace(changes).format(), crlf=crlf)


# -- implicit IVs --------------------------------------------------------------------------

# BIS §5.2: keys of these methods and the identity format without IV use the MSN as IV.
_IMPLICIT_IV = frozenset({"AES-128", "SAMPLE-AES"})


def _explicit_ivs(playlist: MediaPlaylist, history: Sequence[BreakRecord]) -> MediaPlaylist:
    """SPEC_RULES 26 (BIS §5.2): a kept segment decrypted with its MSN as IV keeps that IV
    when its number moves: its key is re-stated with ``IV`` = its origin MSN. Once one is,
    every later segment of the key's scope is too (it would inherit the IV otherwise),
    and so are the parts of the segment in progress (their IV is their parent's MSN).
    Pod segments are left to the edit that inserted them."""
    if not history or not _has_key(playlist):
        return playlist
    crlf = playlist.crlf
    key: str | None = None  # the identity key in effect, when its IV is implicit
    pinned = False
    segments = []
    for i, segment in enumerate(playlist.segments):
        key, pinned = _scope(segment.raw, key, pinned)
        origin, index = origin_msn_for(history, playlist.msn(i))
        if key is not None and index is None and (pinned or origin != playlist.msn(i)):
            segment = segment._replace(raw=_pin(segment.raw, key, origin, crlf))
            pinned = True
        segments.append(segment)
    tail = playlist.tail
    key, pinned = _scope(tail, key, pinned)
    origin, index = origin_msn_for(history, playlist.msn(len(segments)))
    parts = [i for i, raw in enumerate(tail) if tag_name(raw) == "EXT-X-PART"]
    moved = origin != playlist.msn(len(segments))
    if parts and key is not None and index is None and (pinned or moved):
        tail = (*tail[: parts[0]], *_pin(tail[parts[0] :], key, origin, crlf))
    pinned_any = segments != list(playlist.segments) or tail != playlist.tail
    return _version_2(playlist.evolve(segments=tuple(segments), tail=tail), pinned_any)


def _has_key(playlist: MediaPlaylist) -> bool:
    lines = (raw for s in playlist.segments if len(s.raw) > 2 for raw in s.raw)
    return any(tag_name(raw) == "EXT-X-KEY" for raw in (*lines, *playlist.tail))


def _scope(lines: Sequence[str], key: str | None, pinned: bool) -> tuple[str | None, bool]:
    """The identity key with an implicit IV in effect after ``lines`` (BIS §4.4.4.4: a key
    applies until the next one of its KEYFORMAT or METHOD=NONE), and whether it is pinned."""
    for raw in lines:
        if tag_name(raw) != "EXT-X-KEY":
            continue
        line = classify(raw)
        attributes = parse_attributes(line.value, line.number)
        method = attributes.get("METHOD")
        if method == "NONE":
            key, pinned = None, False
        elif (attributes.get("KEYFORMAT") or "identity") == "identity":
            implicit = method in _IMPLICIT_IV and "IV" not in attributes
            key, pinned = (raw.removesuffix("\r") if implicit else None), False
    return key, pinned


def _pin(lines: Sequence[str], key: str, iv: int, crlf: bool) -> tuple[str, ...]:
    """``lines`` with ``key`` stated with an explicit IV (in place of ``key`` if there)."""
    line = classify(key)
    value = parse_attributes(line.value).replace({"IV": f"0x{iv:032X}"}).format()
    pinned = tag("EXT-X-KEY", value, crlf=crlf)
    at = next((i for i, raw in enumerate(lines) if raw.removesuffix("\r") == key), None)
    if at is None:
        return (pinned, *lines)
    return (*lines[:at], pinned, *lines[at + 1 :])


def _version_2(playlist: MediaPlaylist, pinned: bool) -> MediaPlaylist:
    """BIS §8: the IV attribute needs EXT-X-VERSION 2."""
    if not pinned or (playlist.version or 1) >= 2:
        return playlist
    head = list(playlist.head)
    line = tag("EXT-X-VERSION", "2", crlf=playlist.crlf)
    at = next((i for i, raw in enumerate(head) if tag_name(raw) == "EXT-X-VERSION"), None)
    if at is None:
        head.insert(1, line)
    else:
        head[at] = line
    return playlist.evolve(head=tuple(head), version=2)
