"""iterd.recordio against the MXNet reference test vectors, and the mx.io tutorial's Record IO snippets.

Every file of tests/testdata/mxnet-reference (written by dmlc-core / MXNet's recordio.py) is read back
and matched against MANIFEST.json; the writer reproduces each .rec and .idx byte for byte from the same
payloads; the damaged files raise RecordIOError at the damaged record only. No daemon is needed.
"""
import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from iterd import recordio

REFERENCE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata",
                             "mxnet-reference")


def load_manifest():
    with open(os.path.join(REFERENCE_DIR, "MANIFEST.json")) as f:
        return json.load(f)


MANIFEST = load_manifest()
CASES = {case["name"]: case for case in MANIFEST["cases"]}
GOOD_CASES = sorted(name for name, case in CASES.items() if "corruption" not in case)


def reference_path(name):
    return os.path.join(REFERENCE_DIR, name)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_all(reader):
    records = []
    while True:
        record = reader.read()
        if record is None:
            return records
        records.append(record)


def open_reference(case, flag="r"):
    return recordio.MXIndexedRecordIO(reference_path(case["idx"]), reference_path(case["rec"]), flag)


def test_every_reference_data_file_is_present_and_unchanged():
    for name, expected in MANIFEST["files"].items():
        with open(reference_path(name), "rb") as f:
            data = f.read()
        assert (len(data), sha256(data)) == (expected["size"], expected["sha256"]), name


@pytest.mark.parametrize("name", GOOD_CASES)
def test_sequential_read_returns_every_manifest_record_then_none(name):
    case = CASES[name]
    with recordio.MXRecordIO(reference_path(case["rec"]), "r") as reader:
        offsets = []
        records = []
        while True:
            offsets.append(reader.tell())
            record = reader.read()
            if record is None:
                break
            records.append(record)
        assert reader.read() is None  # Stays at the clean end.
    expected = case["records"]
    assert [(len(r), sha256(r)) for r in records] == [(e["payload_len"], e["payload_sha256"])
                                                      for e in expected]
    assert offsets == [e["offset"] for e in expected] + [case["writer"]["end_offset"]]


@pytest.mark.parametrize("name", GOOD_CASES)
def test_index_gives_manifest_keys_offsets_and_payloads(name):
    case = CASES[name]
    with open_reference(case) as reader:
        assert reader.keys == [e["key"] for e in case["records"]]
        assert reader.idx == {e["key"]: e["offset"] for e in case["records"]}
        for expected in reversed(case["records"]):  # Random order: backwards.
            record = reader.read_idx(expected["key"])
            assert (len(record), sha256(record)) == (expected["payload_len"], expected["payload_sha256"])
            if "payload_hex" in expected:
                assert record.hex() == expected["payload_hex"]


@pytest.mark.parametrize("name", [n for n in GOOD_CASES
                                  if any("irheader" in r for r in CASES[n]["records"])])
def test_packed_records_unpack_to_manifest_irheaders(name):
    case = CASES[name]
    with open_reference(case) as reader:
        for expected in case["records"]:
            header, content = recordio.unpack(reader.read_idx(expected["key"]))
            want = expected["irheader"]
            assert (header.flag, header.id, header.id2) == (want["flag"], want["id"], want["id2"])
            if want["flag"] > 0:
                assert header.label.dtype == np.float32
                assert header.label.tolist() == want["labels"]
                assert [v.tobytes().hex() for v in header.label] == want["labels_f32_hex"]
            else:
                assert isinstance(header.label, float)
                assert np.float32(header.label).tobytes().hex() == want["label_f32_hex"]
            assert (len(content), sha256(content)) == (want["content_len"], want["content_sha256"])


def rgb_pixels(image):
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)


@pytest.mark.parametrize("name", [n for n in GOOD_CASES
                                  if any("image" in r for r in CASES[n]["records"])])
def test_image_records_decode_to_manifest_sizes_and_pixels(name):
    case = CASES[name]
    with open_reference(case) as reader:
        for expected in case["records"]:
            header, image = recordio.unpack_img(reader.read_idx(expected["key"]))
            assert header.id == expected["irheader"]["id"]
            want = expected["image"]
            channels = 1 if image.ndim == 2 else image.shape[2]
            assert (image.shape[1], image.shape[0], channels, str(image.dtype)) == (
                want["width"], want["height"], want["channels"], want["dtype"])
            pixels = rgb_pixels(image)
            if want["encoding"] == "png":
                assert sha256(pixels.tobytes()) == want["pixels_rgb_sha256"]
            mean = pixels.reshape(-1, channels).mean(axis=0)
            np.testing.assert_allclose(mean, want["pixels_rgb_mean"], atol=1.0)


@pytest.mark.parametrize("name", GOOD_CASES)
def test_writer_reproduces_reference_rec_and_idx_byte_for_byte(name, tmp_path):
    case = CASES[name]
    with open_reference(case) as reader:
        payloads = [reader.read_idx(e["key"]) for e in case["records"]]
    assert [sha256(p) for p in payloads] == [e["payload_sha256"] for e in case["records"]]
    rec_path, idx_path = tmp_path / "out.rec", tmp_path / "out.idx"
    writer = recordio.MXIndexedRecordIO(str(idx_path), str(rec_path), "w")
    positions = []
    for expected, payload in zip(case["records"], payloads):
        positions.append(writer.tell())
        writer.write_idx(expected["key"], payload)
    assert writer.tell() == case["writer"]["end_offset"]
    writer.close()
    assert positions == [e["offset"] for e in case["records"]]
    assert rec_path.read_bytes() == open(reference_path(case["rec"]), "rb").read()
    assert idx_path.read_bytes() == open(reference_path(case["idx"]), "rb").read()


def test_writer_reproduces_flipped_magic_file_before_its_corruption(tmp_path):
    case = CASES["h_flipped_magic"]
    damaged = open(reference_path(case["rec"]), "rb").read()
    original = bytearray(damaged)
    original[case["corruption"]["offset"]] ^= case["corruption"]["xor"]
    written = case["records_as_written_before_corruption"]
    payloads = [bytes(original[e["offset"] + 8:e["offset"] + 8 + e["payload_len"]]) for e in written]
    assert [sha256(p) for p in payloads] == [e["payload_sha256"] for e in written]
    with recordio.MXRecordIO(str(tmp_path / "out.rec"), "w") as writer:
        for payload in payloads:
            writer.write(payload)
    assert (tmp_path / "out.rec").read_bytes() == bytes(original)


def test_writer_output_matches_truncated_file_up_to_the_cut(tmp_path):
    case = CASES["h_truncated"]
    damaged = open(reference_path(case["rec"]), "rb").read()
    written = case["records_as_written_before_corruption"]
    kept = damaged[written[1]["offset"] + 8:]  # The 50 bytes of record 1 that survived.
    with recordio.MXRecordIO(str(tmp_path / "out.rec"), "w") as writer:
        writer.write(bytes.fromhex(written[0]["payload_hex"]))
        writer.write(kept + b"\x01" * (written[1]["payload_len"] - len(kept)))
        writer.write(bytes.fromhex(written[2]["payload_hex"]))
        assert writer.tell() == case["writer"]["end_offset"]
    assert (tmp_path / "out.rec").read_bytes()[:len(damaged)] == damaged


@pytest.mark.parametrize("name", ["h_truncated", "h_flipped_magic"])
def test_damaged_file_read_sequentially_gives_intact_record_then_error_at_damage(name):
    case = CASES[name]
    written = case["records_as_written_before_corruption"]
    with recordio.MXRecordIO(reference_path(case["rec"]), "r") as reader:
        first = reader.read()
        assert sha256(first) == written[0]["payload_sha256"]
        for _ in range(2):  # The reader stays on the damaged record: no garbage, no silent skip.
            with pytest.raises(recordio.RecordIOError) as error:
                reader.read()
            assert error.value.offset == written[1]["offset"]
            assert error.value.path == reference_path(case["rec"])
            assert case["rec"] in str(error.value) and "offset 32" in str(error.value)
            assert isinstance(error.value, OSError)


def test_truncated_file_through_index_serves_intact_key_errors_on_cut_and_ends_past_eof():
    case = CASES["h_truncated"]
    written = case["records_as_written_before_corruption"]
    with open_reference(case) as reader:
        assert sha256(reader.read_idx(0)) == written[0]["payload_sha256"]
        with pytest.raises(recordio.RecordIOError, match="truncated record") as error:
            reader.read_idx(1)
        assert error.value.offset == 32
        assert reader.read_idx(2) is None  # Offset 140 lies past the 90-byte file: end of stream.
        assert sha256(reader.read_idx(0)) == written[0]["payload_sha256"]


def test_flipped_magic_file_through_index_serves_records_before_and_after_damage():
    case = CASES["h_flipped_magic"]
    written = case["records_as_written_before_corruption"]
    with open_reference(case) as reader:
        assert sha256(reader.read_idx(2)) == written[2]["payload_sha256"]
        with pytest.raises(recordio.RecordIOError, match="bad magic") as error:
            reader.read_idx(1)
        assert error.value.offset == 32
        assert sha256(reader.read_idx(0)) == written[0]["payload_sha256"]
        assert sha256(reader.read_idx(2)) == written[2]["payload_sha256"]


# The tutorial's "Record IO" section (docs/mxnet-io-tutorial.txt), verbatim but for the module name.
TUTORIAL_MXRECORDIO_WRITE = """
record = mx.recordio.MXRecordIO('tmp.rec', 'w')
for i in range(5):
    record.write('record_%d'%i)
record.close()
"""
TUTORIAL_MXRECORDIO_READ = """
record = mx.recordio.MXRecordIO('tmp.rec', 'r')
while True:
    item = record.read()
    if not item:
        break
    print (item)
record.close()
"""
TUTORIAL_INDEXED_WRITE = """
record = mx.recordio.MXIndexedRecordIO('tmp.idx', 'tmp.rec', 'w')
for i in range(5):
    record.write_idx(i, 'record_%d'%i)
record.close()
"""
TUTORIAL_INDEXED_READ = """
record = mx.recordio.MXIndexedRecordIO('tmp.idx', 'tmp.rec', 'r')
record.read_idx(3)
"""
TUTORIAL_PACK = """
# pack
data = 'data'
label1 = 1.0
header1 = mx.recordio.IRHeader(flag=0, label=label1, id=1, id2=0)
s1 = mx.recordio.pack(header1, data)

label2 = [1.0, 2.0, 3.0]
header2 = mx.recordio.IRHeader(flag=3, label=label2, id=2, id2=0)
s2 = mx.recordio.pack(header2, data)
# unpack
print(mx.recordio.unpack(s1))
print(mx.recordio.unpack(s2))
"""
TUTORIAL_PACK_IMG = """
data = np.ones((3,3,1), dtype=np.uint8)
label = 1.0
header = mx.recordio.IRHeader(flag=0, label=label, id=0, id2=0)
s = mx.recordio.pack_img(header, data, quality=100, img_fmt='.jpg')
# unpack_img
print(mx.recordio.unpack_img(s))
"""


def run_snippet(text, namespace):
    exec(text.replace("mx.recordio.", "iterd_recordio."), namespace)  # pylint: disable=exec-used


def test_tutorial_record_io_snippets_run_and_print_what_the_tutorial_shows(tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"iterd_recordio": recordio, "np": np}

    run_snippet(TUTORIAL_MXRECORDIO_WRITE, namespace)
    assert (tmp_path / "tmp.rec").read_bytes() == open(reference_path("a_tutorial_strings.rec"),
                                                       "rb").read()
    run_snippet(TUTORIAL_MXRECORDIO_READ, namespace)
    assert capsys.readouterr().out.splitlines() == ["b'record_%d'" % i for i in range(5)]

    run_snippet(TUTORIAL_INDEXED_WRITE, namespace)
    assert (tmp_path / "tmp.idx").read_bytes() == open(reference_path("a_tutorial_strings.idx"),
                                                       "rb").read()
    run_snippet(TUTORIAL_INDEXED_READ, namespace)
    assert namespace["record"].read_idx(3) == b"record_3"
    assert namespace["record"].keys == [0, 1, 2, 3, 4]  # "record.keys"

    run_snippet(TUTORIAL_PACK, namespace)
    assert capsys.readouterr().out.splitlines() == [
        "(HEADER(flag=0, label=1.0, id=1, id2=0), b'data')",
        "(HEADER(flag=3, label=array([1., 2., 3.], dtype=float32), id=2, id2=0), b'data')",
    ]

    run_snippet(TUTORIAL_PACK_IMG, namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("(HEADER(flag=0, label=1.0, id=0, id2=0), array([[1, 1, 1],")
    header, image = recordio.unpack_img(namespace["s"])
    assert image.shape == (3, 3) and image.dtype == np.uint8 and (image == 1).all()
