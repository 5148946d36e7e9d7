"""SCTE-35 cue messages: a typed, strict decoder of splice_info_section().

Follows ANSI/SCTE 35 2023r1 (§9.6 splice_info_section, §9.7 splice commands, §9.8 time
structures, §10.3.3 segmentation_descriptor); table numbers below are that edition's. A
payload arrives as base64 (``#EXT-OATCLS-SCTE35``, ``CUE=``), as a ``0x`` hexadecimal
sequence (``EXT-X-DATERANGE`` ``SCTE35-OUT``, BIS §4.4.5.1.1) or as raw bytes. Anything that
is not a clear, CRC-valid section raises ``Scte35Error``, whose message says where it broke.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple

TABLE_ID: Final = 0xFC
SPLICE_NULL: Final = 0x00
SPLICE_SCHEDULE: Final = 0x04
SPLICE_INSERT: Final = 0x05
TIME_SIGNAL: Final = 0x06
BANDWIDTH_RESERVATION: Final = 0x07
PRIVATE_COMMAND: Final = 0xFF
SEGMENTATION_DESCRIPTOR: Final = 0x02
CUEI: Final = 0x43554549  # "CUEI", the identifier of every SCTE 35 descriptor (Table 16)

# Table 23 - segmentation_type_id: the types that start something, and those that end it.
START_TYPES: Final = frozenset(
    {
        0x10, 0x14, 0x16, 0x18, 0x1A, 0x20, 0x22, 0x30, 0x32, 0x34,
        0x36, 0x38, 0x3A, 0x3C, 0x3E, 0x40, 0x42, 0x44, 0x46, 0x50,
    }
)  # fmt: skip
END_TYPES: Final = frozenset(
    {
        0x11, 0x21, 0x23, 0x31, 0x33, 0x35, 0x37, 0x39, 0x3B,
        0x3D, 0x3F, 0x41, 0x43, 0x45, 0x47, 0x51,
    }
)  # fmt: skip

_TICKS: Final = 90_000  # the 90 kHz program clock of every time field
_PTS_WRAP: Final = 1 << 33
_LEGACY_LENGTH: Final = 0xFFF  # §9.6.1: splice_command_length unknown, parse the command
_HEADER: Final = 14  # table_id .. splice_command_type
_CRC: Final = 4


class Scte35Error(ValueError):
    """A payload that is not a readable splice_info_section; the message says where."""


@dataclass(frozen=True, slots=True)
class SegmentationDescriptor:
    """SCTE 35 Table 20 - segmentation_descriptor(), the fields a break needs.

    A cancelled descriptor carries only its event id (type 0, no UPID)."""

    event_id: int
    cancel: bool
    type_id: int
    duration: float | None  # seconds
    upid_type: int
    upid: bytes
    segment_num: int
    segments_expected: int


@dataclass(frozen=True, slots=True)
class SpliceInfo:
    """SCTE 35 Table 5 - splice_info_section(), flattened to what cue handling uses."""

    command_type: int
    command_name: str
    pts_adjustment: int  # 90 kHz ticks
    splice_event_id: int | None  # splice_insert only
    cancel: bool  # splice_event_cancel_indicator
    out_of_network: bool | None  # splice_insert only
    pts_time: float | None  # seconds, pts_adjustment applied, modulo 2**33 ticks
    break_duration: float | None  # seconds
    auto_return: bool | None
    descriptors: tuple[SegmentationDescriptor, ...]
    raw: bytes  # the section, table_id through CRC_32

    @property
    def is_out(self) -> bool:
        """An out point: splice_insert out of network, or a time_signal starting a segment."""
        if self.command_type == SPLICE_INSERT:
            return bool(self.out_of_network) and not self.cancel
        return self.command_type == TIME_SIGNAL and any(
            d.type_id in START_TYPES for d in self.descriptors
        )

    @property
    def is_in(self) -> bool:
        """An in point: splice_insert back to the network, or a time_signal ending a segment."""
        if self.command_type == SPLICE_INSERT:
            return self.out_of_network is False and not self.cancel
        return self.command_type == TIME_SIGNAL and any(
            d.type_id in END_TYPES for d in self.descriptors
        )

    @property
    def duration(self) -> float | None:
        """break_duration, else the segmentation_duration of the first starting descriptor."""
        if self.break_duration is not None:
            return self.break_duration
        for d in self.descriptors:
            if d.type_id in START_TYPES and d.duration is not None:
                return d.duration
        return None


def decode(payload: str | bytes) -> SpliceInfo:
    """Decode base64 text, ``0x``-hex text or raw bytes into a SpliceInfo."""
    data = payload if isinstance(payload, bytes) else _text_to_bytes(payload)
    return _section(data)


def _text_to_bytes(text: str) -> bytes:
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise Scte35Error("hexadecimal payload is not valid hex") from None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Scte35Error("base64 payload is not valid base64") from None


class _Reader:
    """Bounded big-endian reads over ``data[pos:end]``; running past ``end`` is an error."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def take(self, count: int, what: str) -> bytes:
        if self.end - self.pos < count:
            left = self.end - self.pos
            raise Scte35Error(f"{what} needs {count} bytes at offset {self.pos}, {left} left")
        self.pos += count
        return self.data[self.pos - count : self.pos]

    def uint(self, count: int, what: str) -> int:
        return int.from_bytes(self.take(count, what))

    def rest(self) -> bytes:
        return self.take(self.end - self.pos, "")


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE: Final = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """The MPEG-2 CRC_32 of ISO/IEC 13818-1 Annex A (poly 0x04C11DB7, no reflection)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _section(data: bytes) -> SpliceInfo:
    """SCTE 35 Table 5 - splice_info_section()."""
    if len(data) < 3:
        raise Scte35Error(f"payload of {len(data)} bytes is shorter than a section header")
    if data[0] != TABLE_ID:
        raise Scte35Error(f"table_id is 0x{data[0]:02X}, not 0xFC")
    total = 3 + (((data[1] & 0x0F) << 8) | data[2])
    if len(data) < total:
        raise Scte35Error(f"section_length needs {total} bytes, the payload has {len(data)}")
    if data[total:].strip(b"\xff"):
        # ISO/IEC 13818-1 §2.4.4: only 0xFF stuffing may follow a section.
        raise Scte35Error(f"{len(data) - total} bytes follow the {total}-byte section")
    if total < _HEADER + 2 + _CRC:
        raise Scte35Error(f"section_length {total - 3} is too short for a splice_info_section")
    body_end = total - _CRC
    expected = int.from_bytes(data[body_end:total])
    if crc32_mpeg2(data[:body_end]) != expected:
        raise Scte35Error(f"CRC_32 mismatch (section says 0x{expected:08X})")
    if data[3] != 0:
        raise Scte35Error(f"protocol_version {data[3]} is not 0")
    if data[4] & 0x80:
        # §9.6.1 / §11: the command and descriptors are encrypted; no key, nothing to read.
        raise Scte35Error("encrypted_packet is set; encrypted sections are not supported")
    return _clear_section(data, body_end)


class _Command(NamedTuple):
    splice_event_id: int | None = None
    cancel: bool = False
    out_of_network: bool | None = None
    pts_ticks: int | None = None
    break_ticks: int | None = None
    auto_return: bool | None = None


def _clear_section(data: bytes, body_end: int) -> SpliceInfo:
    pts_adjustment = ((data[4] & 0x01) << 32) | int.from_bytes(data[5:9])
    command_length = ((data[11] & 0x0F) << 8) | data[12]
    command_type = data[13]
    entry = _COMMANDS.get(command_type)
    if entry is None:
        # §9.6.1: a device that does not support a command ignores the whole section.
        raise Scte35Error(f"splice_command_type 0x{command_type:02X} is reserved")
    name, parse = entry
    legacy = command_length == _LEGACY_LENGTH
    command_end = body_end - 2 if legacy else _HEADER + command_length
    if command_end > body_end - 2:
        raise Scte35Error(f"splice_command_length {command_length} runs past the section")
    reader = _Reader(data, _HEADER, command_end)
    command = parse(reader, legacy)
    if not legacy and reader.pos != command_end:
        raise Scte35Error(
            f"{name}() ends at offset {reader.pos}, splice_command_length says {command_end}"
        )
    at = reader.pos
    loop_end = at + 2 + _Reader(data, at, body_end).uint(2, "descriptor_loop_length")
    if loop_end > body_end:
        raise Scte35Error(f"descriptor_loop_length runs past the section at offset {at}")
    # Bytes between the loop and CRC_32 are alignment_stuffing (kept out of the loop).
    return SpliceInfo(
        command_type=command_type,
        command_name=name,
        pts_adjustment=pts_adjustment,
        splice_event_id=command.splice_event_id,
        cancel=command.cancel,
        out_of_network=command.out_of_network,
        pts_time=_pts_seconds(command.pts_ticks, pts_adjustment),
        break_duration=None if command.break_ticks is None else command.break_ticks / _TICKS,
        auto_return=command.auto_return,
        descriptors=_descriptors(_Reader(data, at + 2, loop_end)),
        raw=data[: body_end + _CRC],
    )


def _pts_seconds(ticks: int | None, adjustment: int) -> float | None:
    """§9.6.1: pts_adjustment is added to every pts_time, ignoring the 33-bit carry."""
    return None if ticks is None else ((ticks + adjustment) % _PTS_WRAP) / _TICKS


def _splice_null(reader: _Reader, legacy: bool) -> _Command:
    """SCTE 35 Table 8 - splice_null(): no fields (a heartbeat)."""
    return _Command()


def _splice_schedule(reader: _Reader, legacy: bool) -> _Command:
    """SCTE 35 Table 9 - splice_schedule(): carried, not read (it schedules by UTC time,
    which a playlist window does not use)."""
    _refuse_legacy(legacy, "splice_schedule")
    reader.rest()
    return _Command()


def _private_command(reader: _Reader, legacy: bool) -> _Command:
    """SCTE 35 Table 13 - private_command(): an identifier and private bytes."""
    _refuse_legacy(legacy, "private_command")
    reader.uint(4, "private_command() identifier")
    reader.rest()
    return _Command()


def _refuse_legacy(legacy: bool, name: str) -> None:
    if legacy:
        raise Scte35Error(f"splice_command_length 0xFFF cannot delimit {name}()")


def _splice_time(reader: _Reader, what: str) -> int | None:
    """SCTE 35 Table 14 - splice_time(): pts_time in ticks, or None when not specified."""
    first = reader.uint(1, f"{what} splice_time()")
    if not first & 0x80:
        return None
    return ((first & 0x01) << 32) | reader.uint(4, f"{what} pts_time")


def _break_duration(reader: _Reader) -> tuple[bool, int]:
    """SCTE 35 Table 15 - break_duration(): auto_return and the duration in ticks."""
    first = reader.uint(1, "break_duration()")
    return bool(first & 0x80), ((first & 0x01) << 32) | reader.uint(4, "break_duration()")


def _splice_insert(reader: _Reader, legacy: bool) -> _Command:
    """SCTE 35 Table 10 - splice_insert()."""
    event_id = reader.uint(4, "splice_insert() splice_event_id")
    if reader.uint(1, "splice_insert() splice_event_cancel_indicator") & 0x80:
        return _Command(splice_event_id=event_id, cancel=True)
    flags = reader.uint(1, "splice_insert() flags")
    out, program, has_duration, immediate = (bool(flags & bit) for bit in (0x80, 0x40, 0x20, 0x10))
    pts = None
    if program and not immediate:
        pts = _splice_time(reader, "splice_insert()")
    elif not program:
        # Component splice mode (deprecated): the first component's time stands for all.
        for i in range(reader.uint(1, "splice_insert() component_count")):
            reader.take(1, "splice_insert() component_tag")
            if not immediate:
                time = _splice_time(reader, f"splice_insert() component {i}")
                pts = time if pts is None else pts
    auto_return, break_ticks = _break_duration(reader) if has_duration else (None, None)
    reader.take(4, "splice_insert() unique_program_id/avail_num/avails_expected")
    return _Command(event_id, False, out, pts, break_ticks, auto_return)


def _time_signal(reader: _Reader, legacy: bool) -> _Command:
    """SCTE 35 Table 11 - time_signal(): a splice_time(); meaning comes from descriptors."""
    return _Command(pts_ticks=_splice_time(reader, "time_signal()"))


def _bandwidth_reservation(reader: _Reader, legacy: bool) -> _Command:
    """SCTE 35 Table 12 - bandwidth_reservation(): no fields."""
    return _Command()


_COMMANDS: Final[dict[int, tuple[str, Callable[[_Reader, bool], _Command]]]] = {
    SPLICE_NULL: ("splice_null", _splice_null),
    SPLICE_SCHEDULE: ("splice_schedule", _splice_schedule),
    SPLICE_INSERT: ("splice_insert", _splice_insert),
    TIME_SIGNAL: ("time_signal", _time_signal),
    BANDWIDTH_RESERVATION: ("bandwidth_reservation", _bandwidth_reservation),
    PRIVATE_COMMAND: ("private_command", _private_command),
}


def _descriptors(loop: _Reader) -> tuple[SegmentationDescriptor, ...]:
    """SCTE 35 Table 16 - splice_descriptor() loop. Only CUEI segmentation descriptors are
    read; avail, DTMF, time, audio and private descriptors are stepped over by length."""
    found = []
    while loop.pos < loop.end:
        at = loop.pos
        tag = loop.uint(1, "splice_descriptor_tag")
        length = loop.uint(1, "descriptor_length")
        body = _Reader(loop.data, loop.pos, loop.pos + length)
        loop.take(length, f"descriptor 0x{tag:02X} at offset {at}")
        identifier = body.uint(4, f"descriptor 0x{tag:02X} identifier")
        if tag == SEGMENTATION_DESCRIPTOR and identifier == CUEI:
            found.append(_segmentation(body))
    return tuple(found)


def _segmentation(body: _Reader) -> SegmentationDescriptor:
    """SCTE 35 Table 20 - segmentation_descriptor() (after its identifier)."""
    event_id = body.uint(4, "segmentation_event_id")
    if body.uint(1, "segmentation_event_cancel_indicator") & 0x80:
        return SegmentationDescriptor(event_id, True, 0, None, 0, b"", 0, 0)
    flags = body.uint(1, "segmentation flags")
    if not flags & 0x80:
        # Component segmentation (deprecated): component_tag + 7 reserved + 33-bit offset.
        body.take(6 * body.uint(1, "segmentation component_count"), "segmentation components")
    duration = None
    if flags & 0x40:
        duration = body.uint(5, "segmentation_duration") / _TICKS
    upid_type = body.uint(1, "segmentation_upid_type")
    upid = body.take(body.uint(1, "segmentation_upid_length"), "segmentation_upid")
    type_id = body.uint(1, "segmentation_type_id")
    segment_num = body.uint(1, "segment_num")
    segments_expected = body.uint(1, "segments_expected")
    # sub_segment_num/sub_segments_expected may follow for some types; the length covers them.
    return SegmentationDescriptor(
        event_id, False, type_id, duration, upid_type, upid, segment_num, segments_expected
    )


__all__ = [
    "END_TYPES",
    "START_TYPES",
    "Scte35Error",
    "SegmentationDescriptor",
    "SpliceInfo",
    "crc32_mpeg2",
    "decode",
]
