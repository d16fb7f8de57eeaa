"""iterd.recordio behaviours beyond the reference vectors: the mx.recordio API contract (modes, reset,
process check, pickling), the format's known-answer examples, damaged-file errors, .idx parsing, and
pack/unpack/pack_img edge cases. Real files in tmp_path, real forked processes; no daemon.
"""
import multiprocessing
import pickle
import random
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from iterd import recordio

MAGIC = bytes.fromhex("0a23d7ce")


def write_records(path, payloads):
    with recordio.MXRecordIO(str(path), "w") as writer:
        for payload in payloads:
            writer.write(payload)
    return path.read_bytes()


def read_records(path):
    with recordio.MXRecordIO(str(path), "r") as reader:
        records = []
        while True:
            record = reader.read()
            if record is None:
                return records
            records.append(record)


def hexwords(data):
    return " ".join(data[i:i + 4].hex() for i in range(0, len(data), 4))


# Section 1.4 of the compatibility reference: payload -> bytes on disk.
@pytest.mark.parametrize("payload,on_disk", [
    (b"record_0", "0a23d7ce 08000000 7265636f 72645f30"),
    (b"hello", "0a23d7ce 05000000 68656c6c 6f000000"),
    (b"", "0a23d7ce 00000000"),
    (b"abcd" + MAGIC + b"xyz", "0a23d7ce 04000020 61626364 0a23d7ce 03000060 78797a00"),
    (MAGIC, "0a23d7ce 00000020 0a23d7ce 00000060"),
    (MAGIC + MAGIC + b"x", "0a23d7ce 00000020 0a23d7ce 00000040 0a23d7ce 01000060 78000000"),
    (b"ab" + MAGIC + b"cd", "0a23d7ce 08000000 61620a23 d7ce6364"),
])
def test_known_answer_payload_encodes_to_reference_bytes_and_reads_back(tmp_path, payload, on_disk):
    path = tmp_path / "one.rec"
    assert hexwords(write_records(path, [payload])) == on_disk
    assert read_records(path) == [payload]


def test_random_payloads_with_magic_at_every_alignment_round_trip(tmp_path):
    generator = random.Random(7)
    payloads = []
    for _ in range(300):
        pieces = [generator.randbytes(generator.randrange(0, 9)) for _ in range(generator.randrange(1, 6))]
        payloads.append(MAGIC.join(pieces) if generator.random() < 0.8 else b"".join(pieces))
    payloads.append(MAGIC * 1000 + generator.randbytes(3_000_001))  # A large split record.
    path = tmp_path / "mixed.rec"
    data = write_records(path, payloads)
    assert len(data) % 4 == 0
    assert read_records(path) == payloads


def test_record_of_2_pow_29_bytes_is_refused_before_anything_is_written(tmp_path):
    too_large = np.zeros(1 << 29, dtype=np.uint8)  # calloc'ed: never touched, so cheap.
    with recordio.MXRecordIO(str(tmp_path / "big.rec"), "w") as writer:
        with pytest.raises(ValueError, match="536870912 bytes"):
            writer.write(too_large)
        assert writer.tell() == 0
    assert (tmp_path / "big.rec").read_bytes() == b""


def test_str_and_bytes_like_payloads_are_written_as_their_bytes(tmp_path):
    path = tmp_path / "kinds.rec"
    write_records(path, ["h\u00e9llo", bytearray(b"ab"), memoryview(b"cde"), np.arange(3, dtype=np.uint8)])
    assert read_records(path) == ["h\u00e9llo".encode("utf-8"), b"ab", b"cde", b"\x00\x01\x02"]
    with pytest.raises(TypeError, match="int"):
        recordio.MXRecordIO(str(tmp_path / "x.rec"), "w").write(5)


def test_invalid_flag_is_value_error(tmp_path):
    with pytest.raises(ValueError, match="Invalid flag a"):
        recordio.MXRecordIO(str(tmp_path / "x.rec"), "a")


def test_attributes_and_mode_checks_match_mxnet(tmp_path):
    path = tmp_path / "modes.rec"
    writer = recordio.MXRecordIO(path, "w")  # A PathLike uri works too.
    assert (writer.uri, writer.flag, writer.is_open, writer.writable) == (str(path), "w", True, True)
    with pytest.raises(AssertionError):
        writer.read()
    writer.write(b"one")
    writer.close()
    writer.close()  # Idempotent.
    assert not writer.is_open
    reader = recordio.MXRecordIO(str(path), "r")
    assert (reader.is_open, reader.writable) == (True, False)
    with pytest.raises(AssertionError):
        reader.write(b"x")
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read()


def test_reset_restarts_a_reader_and_truncates_a_writer(tmp_path):
    path = tmp_path / "reset.rec"
    writer = recordio.MXRecordIO(str(path), "w")
    writer.write(b"first")
    writer.reset()
    writer.write(b"second")
    writer.close()
    assert read_records(path) == [b"second"]
    reader = recordio.MXRecordIO(str(path), "r")
    assert reader.read() == b"second" and reader.read() is None
    reader.reset()
    assert reader.read() == b"second"


def make_indexed(tmp_path, keys, key_type=int):
    idx, rec = tmp_path / "d.idx", tmp_path / "d.rec"
    with recordio.MXIndexedRecordIO(str(idx), str(rec), "w", key_type=key_type) as writer:
        for key in keys:
            writer.write_idx(key, b"value of %s" % str(key).encode())
    return str(idx), str(rec)


def test_seek_after_end_of_stream_reads_again_unlike_mxnet(tmp_path):
    idx, rec = make_indexed(tmp_path, [0, 1, 2])
    reader = recordio.MXIndexedRecordIO(idx, rec, "r")
    while reader.read() is not None:
        pass
    assert reader.read_idx(1) == b"value of 1"
    assert reader.read() == b"value of 2"
    with pytest.raises(KeyError):
        reader.seek(7)


def test_index_keeps_write_order_duplicates_and_key_type(tmp_path):
    idx, rec = make_indexed(tmp_path, ["b", "a", "b"], key_type=str)
    assert open(idx).read() == "b\t0\na\t20\nb\t40\n"
    reader = recordio.MXIndexedRecordIO(idx, rec, "r", key_type=str)
    assert reader.keys == ["b", "a", "b"]
    assert reader.idx == {"b": 40, "a": 20}  # A repeated key keeps its last offset.
    assert reader.read_idx("a") == b"value of a"


@pytest.mark.parametrize("idx_text,line", [
    ("0\t0\n1\n", 2),
    ("0\t0\nx\t16\n", 2),
    ("0\tsixteen\n", 1),
    ("0\t-16\n", 1),
])
def test_malformed_index_line_is_an_error_naming_file_and_line(tmp_path, idx_text, line):
    idx, rec = make_indexed(tmp_path, [0, 1])
    with open(idx, "w") as f:
        f.write(idx_text)
    with pytest.raises(recordio.RecordIOError, match="d.idx: line %d" % line):
        recordio.MXIndexedRecordIO(idx, rec, "r")


def test_blank_index_lines_are_skipped(tmp_path):
    idx, rec = make_indexed(tmp_path, [0, 1])
    with open(idx, "w") as f:
        f.write("0\t0\n\n1\t20\n\n")
    assert recordio.MXIndexedRecordIO(idx, rec, "r").keys == [0, 1]


def header(cflag, length):
    return MAGIC + struct.pack("<I", (cflag << 29) | length)


GOOD = header(0, 4) + b"good"  # 12 bytes: the damaged record always starts at offset 12.


@pytest.mark.parametrize("damage,offset,reason", [
    (b"\x00\x00\x00", 12, "truncated part header: 3 of 8 bytes"),
    (b"\x00" * 8, 12, "bad magic 0x00000000"),
    (header(4, 0), 12, "invalid cflag 4"),
    (header(2, 0) + header(3, 0), 12, "continuation part \\(cflag 2\\) without a first part"),
    (header(3, 4) + b"tail", 12, "continuation part \\(cflag 3\\) without a first part"),
    (header(1, 4) + b"head" + header(0, 4) + b"next", 24, "cflag 0 where a continuation part"),
    (header(1, 4) + b"head" + header(1, 4) + b"next", 24, "cflag 1 where a continuation part"),
    (header(1, 4) + b"head", 24, "the file ends inside a split record"),
    (header(1, 4) + b"head" + header(3, 100) + b"x" * 40, 24, "declares 100 payload bytes"),
    (header(0, 100) + b"x" * 40, 12, "declares 100 payload bytes"),
    (header(0, 5) + b"hello", 12, "declares 5 payload bytes \\(\\+3 padding\\)"),
])
def test_damage_after_a_good_record_is_an_error_at_its_offset_never_a_merged_record(
        tmp_path, damage, offset, reason):
    path = tmp_path / "damaged.rec"
    path.write_bytes(GOOD + damage)
    reader = recordio.MXRecordIO(str(path), "r")
    assert reader.read() == b"good"
    for _ in range(2):  # The reader stays on the damaged record.
        with pytest.raises(recordio.RecordIOError, match=reason) as error:
            reader.read()
        assert (error.value.offset, error.value.record_offset) == (offset, 12)
        assert str(error.value).startswith("%s: offset %d: " % (path, offset))
        assert reader.tell() == 12


def test_seek_moves_a_reader_off_a_damaged_record(tmp_path):
    rec, idx = tmp_path / "d.rec", tmp_path / "d.idx"
    rec.write_bytes(GOOD + b"\x00" * 8 + GOOD)
    idx.write_text("0\t0\n1\t12\n2\t20\n")
    reader = recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    assert reader.read_idx(0) == b"good"
    with pytest.raises(recordio.RecordIOError, match="offset 12: bad magic"):
        reader.read()
    assert reader.read_idx(2) == b"good"
    assert reader.read() is None


def test_unpickled_reader_reopens_at_start_and_original_keeps_its_place(tmp_path):
    idx, rec = make_indexed(tmp_path, [0, 1, 2])
    reader = recordio.MXIndexedRecordIO(idx, rec, "r")
    assert reader.read() == b"value of 0"
    copy = pickle.loads(pickle.dumps(reader))
    assert copy.is_open and copy.keys == [0, 1, 2] and copy.idx == reader.idx
    assert copy.read() == b"value of 0"
    assert copy.read_idx(2) == b"value of 2"
    assert reader.read() == b"value of 1"
    reader.close()
    closed_copy = pickle.loads(pickle.dumps(reader))
    assert not closed_copy.is_open


def child_report(connection, reader, pickled):
    """Runs in a forked child: what each operation on the parent's reader does here."""
    report = {}
    try:
        reader.read()
        report["read"] = "returned"
    except RuntimeError as error:
        report["read"] = str(error)
    report["read_idx"] = reader.read_idx(1)  # seek re-opens in a new process, as in MXNet.
    report["unpickled"] = pickle.loads(pickled).read_idx(2)
    connection.send(report)
    connection.close()


def test_other_process_may_not_read_but_may_seek_or_unpickle(tmp_path):
    idx, rec = make_indexed(tmp_path, [0, 1, 2])
    reader = recordio.MXIndexedRecordIO(idx, rec, "r")
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=child_report, args=(child_end, reader, pickle.dumps(reader)))
    child.start()
    report = parent_end.recv()
    child.join(10)
    assert report == {"read": "Forbidden operation in multiple processes", "read_idx": b"value of 1",
                      "unpickled": b"value of 2"}
    assert reader.read() == b"value of 0"  # The parent's reader is untouched.


def test_pack_known_answers_from_the_reference():
    assert recordio.pack(recordio.IRHeader(0, 4, 2574, 0), b"").hex() == (
        "00000000" "00008040" "0e0a0000" "00000000" "00000000" "00000000")
    packed = recordio.pack((3, [1.0, 2.0, 3.0], 2, 0), b"data")
    assert packed.hex() == ("03000000" "00000000" "02000000" "00000000" "00000000" "00000000"
                            "0000803f" "00000040" "00004040" "64617461")


def test_pack_overwrites_flag_from_the_label():
    assert recordio.unpack(recordio.pack(recordio.IRHeader(9, 2.5, 1, 0), b"x"))[0].flag == 0
    header, payload = recordio.unpack(recordio.pack(recordio.IRHeader(0, [7.0], 1, 0), b"x"))
    assert header.flag == 1 and header.label.tolist() == [7.0] and payload == b"x"
    header, _ = recordio.unpack(recordio.pack((0, np.array([1, 2], dtype=np.int64), 3, 4), b""))
    assert (header.flag, header.label.tolist(), header.id, header.id2) == (2, [1.0, 2.0], 3, 4)
    assert recordio.unpack(recordio.pack((0, np.float32(0.5), 0, 0), b""))[0].label == 0.5


def test_unpack_label_array_is_a_read_only_float32_view():
    header, payload = recordio.unpack(recordio.pack((0, [1.5, 2.5], 0, 0), b"img"))
    assert header.label.dtype == np.float32 and not header.label.flags.writeable
    assert payload == b"img"


def test_unpack_of_short_or_inconsistent_record_is_an_error():
    with pytest.raises(struct.error, match="23 bytes"):
        recordio.unpack(b"\0" * 23)
    with pytest.raises(ValueError, match="flag 3 needs 12 label bytes"):
        recordio.unpack(struct.pack("<IfQQ", 3, 0, 0, 0) + b"\0" * 8)


def test_pack_img_png_default_quality_is_compression_9():
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    packed = recordio.pack_img((0, 1.0, 5, 0), image, img_fmt=".png")
    _, png9 = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert packed[24:] == png9.tobytes()
    header, decoded = recordio.unpack_img(packed)
    assert header.id == 5 and np.array_equal(decoded, image)  # BGR in, BGR out.
    assert recordio.unpack_img(packed, 0)[1].shape == (20, 30)
    gray = recordio.pack_img((0, 1.0, 5, 0), image[:, :, 0], img_fmt=".PNG")
    assert recordio.unpack_img(gray, 1)[1].shape == (20, 30, 3)


def test_unpack_img_of_undecodable_or_empty_payload_gives_none_image():
    assert recordio.unpack_img(recordio.pack((0, 1.0, 0, 0), b"not an image"))[1] is None
    assert recordio.unpack_img(recordio.pack((0, 1.0, 0, 0), b""))[1] is None


def test_recordio_imports_and_packs_without_opencv():
    script = (
        "import sys; sys.modules['cv2'] = None\n"
        "import iterd.recordio as r\n"
        "assert r.unpack(r.pack((0, 1.0, 2, 0), b'x'))[1] == b'x'\n"
        "try:\n"
        "    r.pack_img((0, 1.0, 0, 0), None)\n"
        "except ImportError as e:\n"
        "    print(e)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            check=True)
    assert "need OpenCV's Python binding (cv2)" in result.stdout
