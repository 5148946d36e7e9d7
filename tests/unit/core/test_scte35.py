"""The SCTE-35 decoder against every corpus payload, hand-built sections and random bytes."""

import base64
import contextlib
import csv
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.scte35 import (
    Scte35Error,
    SegmentationDescriptor,
    SpliceInfo,
    crc32_mpeg2,
    decode,
)

SAMPLES = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "corpus"
    / "scte35"
    / "scte35_payload_samples.tsv"
)
ROWS = list(csv.DictReader(SAMPLES.read_text().splitlines(), delimiter="\t"))
BY_ID = {row["id"]: row["payload"] for row in ROWS}

# Rows whose check says "table_id=0xFC" but which are not valid sections, and why.
BROKEN = {
    "S019": "CRC_32 mismatch",  # labelled "Invalid CRC_32" upstream
    "S029": "section_length needs 50 bytes",  # RFC 8216 §8.10 example, one byte short
    "S030": "section_length needs 45 bytes",  # same example, SCTE35-IN
    "S038": "26 bytes follow the 11-byte section",  # section_length 8 in a 37-byte cue
    "S077": "CRC_32 mismatch",  # documentation examples edited without a new CRC
    "S080": "CRC_32 mismatch",
    "S081": "CRC_32 mismatch",
}


def crc_bitwise(data: bytes) -> int:
    """ISO/IEC 13818-1 Annex A CRC_32, bit by bit (independent of the table-driven one)."""
    crc = 0xFFFFFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 31) ^ ((byte >> bit) & 1)
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (0x04C11DB7 if top else 0)
    return crc


def shallow(row: dict[str, str]) -> bytes:
    """The payload's bytes, decoded without the module under test."""
    text = row["payload"]
    if row["encoding"] == "hex":
        return bytes.fromhex(text[2:])
    return base64.b64decode(text, validate=True)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["id"])
def test_every_corpus_row_matches_its_check(row: dict[str, str]):
    check = row["check"]
    if check.startswith("table_id=0xFC"):
        size = re.fullmatch(r"table_id=0xFC, (\d+) bytes", check)
        assert size is not None
        data = shallow(row)
        assert (data[0], len(data)) == (0xFC, int(size[1]))
        if row["id"] in BROKEN:
            with pytest.raises(Scte35Error, match=BROKEN[row["id"]]):
                decode(row["payload"])
            return
        info = decode(row["payload"])
        assert info.raw == data
        assert crc32_mpeg2(data) == 0  # a section followed by its own CRC_32 leaves no rest
        return
    assert check.startswith(("first byte", "NOT DECODABLE")), check
    with pytest.raises(Scte35Error):
        decode(row["payload"])


def test_every_corpus_row_decodes_from_raw_bytes_too():
    for row in ROWS:
        if row["check"].startswith("table_id") and row["id"] not in BROKEN:
            assert decode(shallow(row)) == decode(row["payload"])


Seg = tuple[int, int, float | None, int, int, int, int]


def seg(
    type_id: int, event_id: int, duration: float | None, upid_type: int, upid_len: int,
    num: int = 0, expected: int = 0,
) -> Seg:  # fmt: skip
    return (type_id, event_id, duration, upid_type, upid_len, num, expected)


# (id, command, splice_event_id, out_of_network, pts_time, break_duration, auto_return,
#  [segmentation descriptors], is_out, is_in, duration). pts_time is rounded to 1 ms.
# S001-S005 are the SCTE 35 §14.1-§14.5 sample messages; their values are the spec's own.
DEEP = [
    ("S001", "time_signal", None, None, 21388.767, None, None,
     [seg(0x34, 0x4800008E, 307.0, 0x08, 8, 2, 0)], True, False, 307.0),
    ("S002", "splice_insert", 0x4800008F, True, 21514.559, 5426421 / 90000, True,
     [], True, False, 5426421 / 90000),
    ("S003", "time_signal", None, None, 21695.740, None, None,
     [seg(0x35, 0x4800008E, None, 0x08, 8, 2, 0)], False, True, None),
    ("S004", "time_signal", None, None, 22798.907, None, None,
     [seg(0x11, 0x48000018, None, 0x08, 8), seg(0x10, 0x48000019, None, 0x08, 8)],
     True, True, None),
    ("S005", "time_signal", None, None, 32575.759, None, None,
     [seg(0x17, 0x48000008, None, 0x08, 8)], False, False, None),
    ("S013", "splice_insert", 31230, True, 12471.336, None, None, [], True, False, None),
    ("S015", "time_signal", None, None, 39449.767, None, None,
     [seg(0x31, 39965, 120.0, 0x0C, 16, 1, 1)], False, True, None),
    ("S018", "splice_null", None, None, None, None, None, [], False, False, None),
    ("S020", "splice_insert", 1644171239, False, None, None, None, [], False, True, None),
    ("S024", "splice_insert", 2920836, False, 24672.739, None, None, [], False, True, None),
    ("S025", "splice_insert", 1, True, 83997.174, 50.0, True, [], True, False, 50.0),
    ("S026", "splice_insert", 16777323, True, 58839.116, 366.0, True, [], True, False, 366.0),
    ("S027", "time_signal", None, None, 19427.975, None, None,
     [seg(0x35, 0x40000057, None, 0x08, 8, 2, 0)], False, True, None),
    ("S028", "time_signal", None, None, 51993.130, None, None,
     [seg(0x0C, 1447, None, 0x11, 3, 1, 1)], False, False, None),
    ("S032", "time_signal", None, None, 25448.638, None, None,
     [seg(0x22, 1, 30.0, 0x0E, 18, 4, 4)], True, False, 30.0),
    ("S034", "time_signal", None, None, 22984.410, None, None,
     [seg(0x10, 2, 2713.0, 0x0E, 18, 1, 1)], True, False, 2713.0),
    ("S039", "time_signal", None, None, 10.0, None, None,
     [seg(0x34, 1, None, 0x09, 0, 0, 1)], True, False, None),
    ("S040", "time_signal", None, None, 40.0, None, None,
     [seg(0x35, 1, None, 0x09, 0, 0, 0)], False, True, None),
    ("S043", "splice_insert", 1, True, None, 0.0, True, [], True, False, 0.0),
    ("S044", "splice_insert", 0xF0000006, True, 342.003, 20.0, True, [], True, False, 20.0),
    ("S045", "time_signal", None, None, 34584.695, None, None,
     [seg(0x34, 2729, 212.16, 0x0C, 17, 0, 0)], True, False, 212.16),
    ("S050", "splice_insert", 4002, False, 6146.721, None, None, [], False, True, None),
    ("S051", "splice_insert", 721, True, None, 19.0, True, [], True, False, 19.0),
    ("S053", "time_signal", None, None, 0.0, None, None,
     [seg(0x01, 1, None, 0x0E, 22, 0, 0)], False, False, None),
]  # fmt: skip


@pytest.mark.parametrize("case", DEEP, ids=lambda c: c[0])
def test_decoded_fields(case):
    sample, command, event, out, pts, brk, auto, segs, is_out, is_in, duration = case
    info = decode(BY_ID[sample])
    assert info.command_name == command
    assert info.splice_event_id == event
    assert info.out_of_network is out
    assert (None if info.pts_time is None else round(info.pts_time, 3)) == pts
    assert info.break_duration == brk
    assert info.auto_return is auto
    assert [
        (d.type_id, d.event_id, d.duration, d.upid_type, len(d.upid), d.segment_num,
         d.segments_expected)
        for d in info.descriptors
    ] == segs  # fmt: skip
    assert (info.is_out, info.is_in, info.duration) == (is_out, is_in, duration)


def test_spec_sample_14_1_upid_and_adjustment():
    info = decode(BY_ID["S001"])
    assert info.descriptors[0].upid == bytes.fromhex("000000002CA0A18A")  # SCTE 35 §14.1
    assert info.pts_adjustment == 0
    assert decode(BY_ID["S026"]).pts_adjustment == 0x0434E390


def test_legacy_command_length_is_parsed_over():
    # S015 says splice_command_length 0xFFF (§9.6.1 "backwards compatibility"): the command
    # delimits itself and the descriptor loop after it is still found.
    info = decode(BY_ID["S015"])
    assert (info.raw[11] & 0x0F, info.raw[12]) == (0x0F, 0xFF)
    assert info.descriptors[0].upid == b"DISCYMWF0452000H"


def test_cancelled_segmentation_descriptor():
    body = event(7) + b"\xff"  # cancel indicator set, nothing else follows
    info = decode(section(0x06, b"\x7f", descriptor(body)))
    assert info.descriptors == (SegmentationDescriptor(7, True, 0, None, 0, b"", 0, 0),)
    assert not info.is_out


def test_other_descriptors_are_stepped_over():
    avail = b"\x00\x08CUEI\x00\x00\x00\x01"
    dtmf = b"\x01\x08CUEI\x08\x5f*1"  # preroll, dtmf_count 2, "*1"
    private = b"\x02\x05SAPS\x00"  # a segmentation tag under another identifier
    seg_body = event(9) + b"\x7f\xc0" + (90000 * 30).to_bytes(5, "big") + b"\x00\x00\x30\x01\x01"
    info = decode(
        section(0x06, b"\xfe\x00\x00\x00\x00", avail + dtmf + private + descriptor(seg_body))
    )
    assert [(d.event_id, d.type_id, d.duration) for d in info.descriptors] == [(9, 0x30, 30.0)]


def test_component_segmentation_is_stepped_over():
    components = b"\x02" + b"\x01\xfe\x00\x00\x00\x00" + b"\x02\xfe\x00\x00\x00\x00"
    seg_body = event(4) + b"\x7f\x3f" + components + b"\x00\x00\x34\x01\x02"
    info = decode(section(0x06, b"\x7f", descriptor(seg_body)))
    assert [(d.type_id, d.segment_num, d.segments_expected) for d in info.descriptors] == [
        (0x34, 1, 2)
    ]


def test_component_mode_splice_insert_takes_the_first_component_time():
    components = b"\x02" + b"\x01\x80\x00\x00\x00\x0a" + b"\x02\x80\x00\x00\x00\x14"
    body = event(5) + b"\x7f" + b"\x80" + components + b"\x00\x00\x00\x00"
    info = decode(section(0x05, body))
    assert (info.out_of_network, info.pts_time) == (True, 10 / 90000)


def test_pts_adjustment_wraps_at_33_bits():
    body = event(1) + b"\x7f" + b"\xcf" + b"\xff\xff\xff\xff\xff" + b"\x00\x00\x00\x00"
    info = decode(section(0x05, body, pts_adjustment=90000))
    assert info.pts_time == pytest.approx((2**33 - 1 + 90000 - 2**33) / 90000)


def test_cancelled_splice_insert_is_neither_out_nor_in():
    info = decode(section(0x05, event(3) + b"\xff"))
    assert (info.cancel, info.out_of_network, info.is_out, info.is_in) == (True, None, False, False)


def test_other_commands():
    private = decode(section(0xFF, b"ABCD\x01\x02"))
    schedule = decode(section(0x04, b"\x00"))
    reservation = decode(section(0x07, b""))
    assert [private.command_name, schedule.command_name, reservation.command_name] == [
        "private_command",
        "splice_schedule",
        "bandwidth_reservation",
    ]


def test_trailing_stuffing_is_accepted():
    data = section(0x00, b"")
    assert decode(data + b"\xff\xff").raw == data


def test_hex_text_accepts_either_prefix_case():
    data = section(0x00, b"")
    assert decode("0X" + data.hex()) == decode("0x" + data.hex().upper())


def test_base64_without_padding():
    text = base64.b64encode(section(0x00, b"")).decode().rstrip("=")
    assert decode(text).command_name == "splice_null"


ERRORS = [
    pytest.param(b"", "shorter than a section header", id="empty-bytes"),
    pytest.param("", "shorter than a section header", id="empty-text"),
    pytest.param("/DBaf%^", "not valid base64", id="bad-base64"),
    pytest.param("/DAlAAAAAAAAAP/wFAUAAAABf+//wpiQkv4ARKogAAEBAQAAQ6sodgé", "not valid base64",
                 id="non-ascii-base64"),
    pytest.param("0xFC3G", "not valid hex", id="bad-hex"),
    pytest.param("0xFC0", "not valid hex", id="odd-hex"),
    pytest.param(bytes.fromhex("FD3011") + bytes(17), "table_id is 0xFD", id="wrong-table-id"),
    pytest.param(base64.b64decode(BY_ID["S001"])[:-5], "section_length needs 55 bytes",
                 id="truncated"),
    pytest.param(base64.b64decode(BY_ID["S018"])[:-1] + b"\x00", "CRC_32 mismatch", id="bad-crc"),
    pytest.param(b"\xfc\x00\x05" + bytes(5), "too short", id="section-too-short"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "message"), ERRORS)
def test_malformed_payloads_raise_scte35_error(payload: str | bytes, message: str):
    with pytest.raises(Scte35Error, match=re.escape(message)):
        decode(payload)


BUILT_ERRORS = [
    pytest.param(lambda: section(0x00, b"", encrypted=True), "encrypted_packet", id="encrypted"),
    pytest.param(lambda: section(0x00, b"", protocol=1), "protocol_version 1", id="protocol"),
    pytest.param(lambda: section(0x08, b""), "0x08 is reserved", id="reserved-command"),
    pytest.param(lambda: section(0x00, b"\x00"), "splice_null() ends at offset 14",
                 id="command-longer-than-parsed"),
    pytest.param(lambda: section(0x05, event(1), command_length=4),
                 "splice_event_cancel_indicator needs 1 bytes", id="command-shorter"),
    pytest.param(lambda: section(0x00, b"", command_length=50), "runs past the section",
                 id="command-length-too-long"),
    pytest.param(lambda: section(0xFF, b"ABCD", command_length=0xFFF), "cannot delimit",
                 id="legacy-private"),
    pytest.param(lambda: section(0x00, b"", loop_length=9), "descriptor_loop_length runs past",
                 id="loop-too-long"),
    pytest.param(lambda: section(0x06, b"\x7f", b"\x02\x08CUEI\x00\x00"),
                 "descriptor 0x02 at offset", id="descriptor-past-loop"),
    pytest.param(lambda: section(0x06, b"\x7f", descriptor(event(1) + b"\x7f\xbf")),
                 "segmentation_upid_type needs 1 bytes", id="segmentation-truncated"),
    pytest.param(lambda: section(0x06, b"\x7f", b"\x02\x02CU"), "identifier needs 4 bytes",
                 id="descriptor-without-identifier"),
    pytest.param(lambda: section(0x00, b"") + b"\x00", "1 bytes follow", id="trailing-bytes"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "message"), BUILT_ERRORS)
def test_malformed_sections_raise_scte35_error(build, message: str):
    with pytest.raises(Scte35Error, match=re.escape(message)):
        decode(build())


# --- builders: a section per SCTE 35 Table 5, with a correct CRC ---------------------------


def event(event_id: int) -> bytes:
    return event_id.to_bytes(4, "big")


def descriptor(body: bytes, tag: int = 0x02) -> bytes:
    return bytes([tag, 4 + len(body)]) + b"CUEI" + body


def section(
    command_type: int,
    command: bytes,
    descriptors: bytes = b"",
    *,
    pts_adjustment: int = 0,
    encrypted: bool = False,
    protocol: int = 0,
    command_length: int | None = None,
    loop_length: int | None = None,
) -> bytes:
    length = len(command) if command_length is None else command_length
    loop = len(descriptors) if loop_length is None else loop_length
    body = (
        bytes([protocol])
        + ((encrypted << 39) | pts_adjustment).to_bytes(5, "big")
        + b"\x00"  # cw_index
        + ((0xFFF << 12) | length).to_bytes(3, "big")
        + bytes([command_type])
        + command
        + loop.to_bytes(2, "big")
        + descriptors
    )
    head = b"\xfc" + (0x3000 | (len(body) + 4)).to_bytes(2, "big") + body
    return head + crc_bitwise(head).to_bytes(4, "big")


# --- properties ------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_scte35_error(data: bytes):
    with contextlib.suppress(Scte35Error):
        decode(data)


@given(st.text(max_size=200))
def test_arbitrary_text_decodes_or_raises_scte35_error(text: str):
    with contextlib.suppress(Scte35Error):
        decode(text)


@given(
    st.sampled_from([0x00, 0x04, 0x05, 0x06, 0x07, 0xFF, 0x42]),
    st.binary(max_size=40),
    st.binary(max_size=60),
    st.one_of(st.none(), st.just(0xFFF), st.integers(0, 0xFFF)),
)
def test_crc_valid_random_sections_decode_or_raise_scte35_error(
    command_type: int, command: bytes, descriptors: bytes, command_length: int | None
):
    data = section(command_type, command, descriptors, command_length=command_length)
    try:
        info = decode(data)
    except Scte35Error:
        return
    assert isinstance(info, SpliceInfo)
    assert info.raw == data


@given(
    event_id=st.integers(0, 2**32 - 1),
    out=st.booleans(),
    pts=st.one_of(st.none(), st.integers(0, 2**33 - 1)),
    duration=st.one_of(st.none(), st.integers(0, 2**33 - 1)),
    auto_return=st.booleans(),
    adjustment=st.integers(0, 2**33 - 1),
)
def test_splice_insert_fields_survive_decoding(
    event_id, out, pts, duration, auto_return, adjustment
):
    flags = 0x40 | (out << 7) | ((duration is not None) << 5) | ((pts is None) << 4)
    body = event(event_id) + b"\x7f" + bytes([flags | 0x0F])
    if pts is not None:
        body += (0xFE00000000 | pts).to_bytes(5, "big")
    if duration is not None:
        body += ((auto_return << 39) | 0x7E00000000 | duration).to_bytes(5, "big")
    body += b"\x00\x01\x02\x03"
    info = decode(section(0x05, body, pts_adjustment=adjustment))
    assert (info.splice_event_id, info.out_of_network, info.cancel) == (event_id, out, False)
    expected_pts = None if pts is None else (pts + adjustment) % 2**33 / 90000
    assert info.pts_time == expected_pts
    assert info.break_duration == (None if duration is None else duration / 90000)
    assert info.auto_return == (None if duration is None else auto_return)
    assert (info.is_out, info.is_in) == (out, not out)


@given(st.binary(max_size=200))
def test_crc_matches_the_bitwise_definition(data: bytes):
    assert crc32_mpeg2(data) == crc_bitwise(data)
