"""Hostile images, .npz archives and image iterator options against a real daemon.

Each hostile open or file must give a clean status (or a counted skip), fast, and afterwards a
well-behaved client must still get correct batches from the same daemon. The files are tiny:
the bombs are small real images whose headers claim a huge size.
"""
import io
import os
import struct
import time
import zipfile
import zlib

import cv2
import numpy as np
import pytest

import iterd
from conftest import start_daemon
from conftest import stop_daemon
from helpers import assert_daemon_serves
from image_data import reference_records
from image_data import write_rec
from iterd import recordio
from iterd.v1 import pipeline_pb2

SMALL = (3, 32, 32)
GOOD_COUNT = 6
# A bomb must be refused from its header: well under the 15 s a 32768^2 decode took.
SECONDS_PER_OPEN = 10


def jpeg_with_size(jpeg, width, height):
    """`jpeg` with its frame header (SOF) claiming width x height."""
    data = bytearray(jpeg)
    i = 2
    while i + 9 < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def png_with_size(width, height):
    """A 4x4 PNG whose IHDR (CRC fixed) claims width x height."""
    data = bytearray(cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def bmp_past_opencv_width():
    """A BMP 2^21 pixels wide: within iterd's pixel limit, past OpenCV's width cap (whose
    CV_Assert text must not reach the client)."""
    data = bytearray(cv2.imencode(".bmp", np.zeros((1, 4, 3), np.uint8))[1].tobytes())
    data[18:22] = struct.pack("<i", 1 << 21)
    return bytes(data)


def good_jpegs():
    return [payload for _, payload in reference_records()[:GOOD_COUNT]]


def write_hostile_files(root, bombs):
    """Good photos labelled 0..GOOD_COUNT-1 with `bombs` (label 100 + i) interleaved, as image
    files with an imglist and as a .rec/.idx; returns (imglist, rec name, idx name)."""
    payloads = []
    for i, jpeg in enumerate(good_jpegs()):
        payloads.append((float(i), jpeg))
        if i < len(bombs):
            payloads.append((100.0 + i, bombs[i]))
    os.makedirs(os.path.join(root, "hostile"), exist_ok=True)
    imglist = []
    for number, (label, payload) in enumerate(payloads):
        name = "hostile/%02d.img" % number
        with open(os.path.join(root, name), "wb") as f:
            f.write(payload)
        imglist.append([label, name])
    write_rec(os.path.join(root, "hostile.rec"),
              [recordio.pack(recordio.IRHeader(0, label, number, 0), payload)
               for number, (label, payload) in enumerate(payloads)])
    return imglist


def labels_of(batches):
    return sorted(int(round(v)) for b in batches
                  for v in np.asarray(b.label[0])[:b.label[0].shape[0] - (b.pad or 0)])


def epoch_and_stats(it):
    with it:
        start = time.monotonic()
        batches = list(it)
        elapsed = time.monotonic() - start
        return batches, it.stats(), elapsed


BOMBS = [
    jpeg_with_size(reference_records()[0][1], 32768, 32768),  # 16 KB claiming 1 G pixels.
    png_with_size(20000, 20000),  # Claiming 400 M pixels.
    bmp_past_opencv_width(),
]


@pytest.mark.parametrize("kind", ["ImageIter", "ImageRecordIter"])
def test_bombs_are_refused_from_the_header_and_counted(daemon, address, kind):
    imglist = write_hostile_files(str(daemon.data_root), BOMBS)
    if kind == "ImageIter":
        it = iterd.ImageIter(batch_size=3, data_shape=SMALL, imglist=imglist, resize=32,
                             server=address)
    else:
        it = iterd.ImageRecordIter(path_imgrec="hostile.rec", data_shape=SMALL, batch_size=3,
                                   resize=32, server=address)
    batches, stats, elapsed = epoch_and_stats(it)
    assert elapsed < SECONDS_PER_OPEN
    assert labels_of(batches) == list(range(GOOD_COUNT))
    assert stats.records_skipped == len(BOMBS)
    examples = "\n".join(stats.skipped_examples)
    assert "declares 32768x32768 = 1073741824 pixels, more than the limit of 89478485" in examples
    assert "declares 20000x20000 = 400000000 pixels" in examples
    assert "limits.max_image_pixels" in examples
    assert "OpenCV" not in examples and "Assert" not in examples
    # Files are named relative to their data root; the root's location is the operator's.
    assert str(daemon.data_root) not in examples
    assert_daemon_serves(address)


def test_fail_policy_names_the_record_and_the_declared_size(daemon, address):
    write_hostile_files(str(daemon.data_root), BOMBS)
    with pytest.raises(iterd.DataLoss) as raised:
        with iterd.ImageRecordIter(path_imgrec="hostile.rec", data_shape=SMALL, batch_size=3,
                                   resize=32, bad_record_policy="fail", server=address) as it:
            list(it)
    assert "hostile.rec" in raised.value.message
    assert "32768x32768" in raised.value.message
    assert str(daemon.data_root) not in raised.value.message
    assert_daemon_serves(address)


@pytest.mark.parametrize("kind,options,field", [
    ("ImageRecordIter", {"pad": 2 ** 30}, "pad"),
    ("ImageRecordIter", {"max_random_scale": 1e30}, "max_random_scale"),
    ("ImageRecordIter", {"min_img_size": 1e30}, "min_img_size"),
    ("ImageRecordIter", {"brightness": float("nan")}, "brightness"),
    ("ImageRecordIter", {"data_shape": (3, 2 ** 62, 4)}, "data_shape"),
    ("ImageIter", {"resize": 2 ** 31 - 1}, "resize"),
    ("ImageIter", {"data_shape": (3, 2 ** 62, 4)}, "data_shape"),
    ("ImageIter", {"rand_gray": 1.5}, "rand_gray"),
])
def test_out_of_range_options_are_invalid_argument_at_open(daemon, address, kind, options,
                                                           field):
    # These served an empty epoch (every record failed) instead of an error.
    write_hostile_files(str(daemon.data_root), [])
    arguments = {"data_shape": SMALL, "batch_size": 3, "server": address}
    arguments.update(options)
    with pytest.raises(iterd.InvalidArgument) as raised:
        if kind == "ImageIter":
            iterd.ImageIter(path_imgrec="hostile.rec", path_imgidx="hostile.idx", **arguments)
        else:
            iterd.ImageRecordIter(path_imgrec="hostile.rec", **arguments)
    assert field in raised.value.message
    assert "got 0" not in raised.value.message
    assert_daemon_serves(address)


@pytest.mark.parametrize("kind", ["ImageIter", "ImageRecordIter"])
def test_idx_offset_past_the_rec_is_invalid_argument_naming_the_line(daemon, address, kind):
    write_hostile_files(str(daemon.data_root), [])
    with open(os.path.join(str(daemon.data_root), "bad_offset.idx"), "w") as f:
        f.write("0\t0\n1\t18446744073709551615\n")
    with pytest.raises(iterd.InvalidArgument) as raised:
        if kind == "ImageIter":
            iterd.ImageIter(batch_size=2, data_shape=SMALL, path_imgrec="hostile.rec",
                            path_imgidx="bad_offset.idx", server=address)
        else:
            iterd.ImageRecordIter(path_imgrec="hostile.rec", path_imgidx="bad_offset.idx",
                                  data_shape=SMALL, batch_size=2, server=address)
    assert ("bad_offset.idx: line 2 (key 1): offset 18446744073709551615 is past the end of "
            "the .rec" in raised.value.message)
    assert_daemon_serves(address)


# A second daemon: a pixel limit high enough for libjpeg itself to see a 65535x65535 header
# (and fail inside it), one worker thread so that the good images decode on the thread that
# failed, and a 1 MB .npz member limit.
LIMITS_CONFIG = """
limits { max_image_pixels: 8589934592 max_npz_member_bytes: 1000000 worker_threads: 1 }
"""


@pytest.fixture(scope="module")
def limits_daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    config = root / "limits.textproto"
    config.write_text(LIMITS_CONFIG)
    running = start_daemon(root, root / "iterd.log", ["--config=%s" % config])
    yield running
    stop_daemon(running)


def test_a_jpeg_libjpeg_refuses_does_not_poison_later_decodes(limits_daemon):
    address = limits_daemon.address
    unreadable = jpeg_with_size(reference_records()[0][1], 65535, 65535)
    imglist = write_hostile_files(str(limits_daemon.data_root), [unreadable] * GOOD_COUNT)
    for _ in range(3):
        # Each epoch decodes the unreadable JPEG before good ones, on the same threads; the
        # good ones failed with "two SOI markers" until a restart.
        batches, stats, _ = epoch_and_stats(iterd.ImageIter(
            batch_size=4, data_shape=SMALL, imglist=imglist, resize=32, server=address))
        assert labels_of(batches) == list(range(GOOD_COUNT))
        # The last batch's pad reads from the start again: >=.
        assert stats.records_skipped >= GOOD_COUNT
        assert all("Maximum supported image dimension is 65500" in e
                   for e in stats.skipped_examples)
    with iterd.ImageRecordIter(path_imgrec="hostile.rec", data_shape=SMALL, batch_size=3,
                               resize=32, server=address) as it:
        assert labels_of(list(it)) == list(range(GOOD_COUNT))
    assert_daemon_serves(address)


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_npz(path, member_bytes, declared_size=None):
    """A DEFLATED .npz of one member a.npy; declared_size patches the uncompressed size the zip
    headers claim."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.npy", member_bytes)
    if declared_size is not None:
        with open(path, "rb") as f:
            data = bytearray(f.read())
        local = data.index(b"PK\x03\x04")
        central = data.index(b"PK\x01\x02")
        data[local + 22:local + 26] = struct.pack("<I", declared_size)
        data[central + 24:central + 28] = struct.pack("<I", declared_size)
        with open(path, "wb") as f:
            f.write(bytes(data))


def open_npz(address, name):
    config = pipeline_pb2.PipelineConfig()
    config.ndarray.batch_size = 2
    config.ndarray.data.add(name="data", path=name, npz_key="a")
    with iterd.Client(address) as client:
        with client.open_config(config) as it:
            return list(it)


def test_npz_deflate_bomb_is_refused_before_inflating(limits_daemon):
    address = limits_daemon.address
    root = str(limits_daemon.data_root)
    bomb = npy_bytes(np.zeros(4000000, np.uint8))  # 4 MB of zeros: a 4 KB file.
    write_npz(os.path.join(root, "bomb.npz"), bomb)
    assert os.path.getsize(os.path.join(root, "bomb.npz")) < 20000
    with pytest.raises(iterd.ResourceExhausted) as raised:
        open_npz(address, "bomb.npz")
    assert "bomb.npz member 'a.npy'" in raised.value.message
    assert "more than the daemon's limit of 1000000" in raised.value.message
    assert "limits.max_npz_member_bytes" in raised.value.message

    small = npy_bytes(np.arange(8, dtype=np.float32))
    write_npz(os.path.join(root, "lying.npz"), small, declared_size=900000)
    with pytest.raises(iterd.DataLoss) as raised:
        open_npz(address, "lying.npz")
    assert "lying.npz member 'a.npy'" in raised.value.message
    assert "declares 900000 inflated bytes but its .npy header" in raised.value.message

    write_npz(os.path.join(root, "fine.npz"), small)
    batches = open_npz(address, "fine.npz")
    assert [b.data[0].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert_daemon_serves(address)
