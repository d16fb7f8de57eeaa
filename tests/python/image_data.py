"""Image data for the end-to-end tests of ImageRecordIter and ImageIter.

The photos are the 20 real JPEGs of the MXNet reference file f_images.rec (tests/testdata); bigger
or damaged .rec files are built from them with iterd.recordio, so every byte the daemon decodes
comes from a real camera-style JPEG encoder.
"""
import os
import shutil
import struct

import cv2
import numpy as np

from iterd import recordio

REFERENCE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata", "mxnet-reference")
REFERENCE_STEM = "f_images"


def reference_records():
    """[(IRHeader, JPEG bytes)] of f_images.rec in file order (ids 7, 15, 19, 0, ...)."""
    reader = recordio.MXRecordIO(os.path.join(REFERENCE_DIR, REFERENCE_STEM + ".rec"), "r")
    records = []
    while True:
        record = reader.read()
        if record is None:
            break
        records.append(recordio.unpack(record))
    reader.close()
    return records


def read_list(path):
    """A .lst file as {id: (labels list, relative path)}."""
    entries = {}
    with open(path) as f:
        for line in f:
            columns = line.rstrip("\n").split("\t")
            entries[int(columns[0])] = ([float(c) for c in columns[1:-1]], columns[-1])
    return entries


def copy_reference(directory):
    """Copies f_images.rec/.idx/.lst into `directory`; returns the .rec path."""
    os.makedirs(directory, exist_ok=True)
    for extension in (".rec", ".idx", ".lst"):
        shutil.copy(os.path.join(REFERENCE_DIR, REFERENCE_STEM + extension), directory)
    return os.path.join(directory, REFERENCE_STEM + ".rec")


def decode_rgb(jpeg_bytes):
    """OpenCV's decode, as RGB HWC uint8 (MXNet's imdecode)."""
    bgr = cv2.imdecode(np.frombuffer(jpeg_bytes, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resize_short_and_center_crop(rgb, resize, height, width):
    """ImageRecordIter's default augmenter without randomness: shorter edge -> resize (bilinear,
    integer division for the long edge), then the centred height x width window."""
    rows, cols = rgb.shape[:2]
    if rows > cols:
        new_rows, new_cols = resize * rows // cols, resize
    else:
        new_rows, new_cols = resize, resize * cols // rows
    resized = cv2.resize(rgb, (new_cols, new_rows), interpolation=cv2.INTER_LINEAR)
    y, x = (new_rows - height) // 2, (new_cols - width) // 2
    return resized[y:y + height, x:x + width]


def center_crop(rgb, height, width):
    rows, cols = rgb.shape[:2]
    y, x = (rows - height) // 2, (cols - width) // 2
    return rgb[y:y + height, x:x + width]


def small_bgr_images(count, short_edge=40):
    """`count` BGR images cut from the reference photos, shorter edge `short_edge`, varied
    aspect ratios (record i is photo i % 20)."""
    photos = [cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
              for _, payload in reference_records()]
    images = []
    for number in range(count):
        photo = photos[number % len(photos)]
        rows, cols = photo.shape[:2]
        scale = short_edge / min(rows, cols)
        images.append(cv2.resize(photo, (max(short_edge, int(cols * scale)),
                                         max(short_edge, int(rows * scale))),
                                 interpolation=cv2.INTER_AREA))
    return images


def write_rec(rec_path, payloads):
    """Writes records (bytes each) to rec_path and its .idx (keys 0..n-1); returns idx path."""
    idx_path = os.path.splitext(rec_path)[0] + ".idx"
    writer = recordio.MXIndexedRecordIO(idx_path, rec_path, "w")
    for key, payload in enumerate(payloads):
        writer.write_idx(key, payload)
    writer.close()
    return idx_path


def write_labelled_rec(rec_path, count, short_edge=40):
    """A .rec (+ .idx) of `count` JPEG records: record i has label i and id i."""
    payloads = [recordio.pack_img(recordio.IRHeader(0, float(i), i, 0), image, quality=90)
                for i, image in enumerate(small_bgr_images(count, short_edge))]
    return write_rec(rec_path, payloads)


def write_corrupt_rec(rec_path, good_count, bad_positions, short_edge=40):
    """`good_count` good records labelled 0..good_count-1, with undecodable records (label
    1000 + position) inserted at `bad_positions` (plain garbage, and a JPEG start-of-image marker
    followed by garbage), and a truncated record (label 2000) at the end of the file, which the
    .idx does not list."""
    good = [recordio.pack_img(recordio.IRHeader(0, float(i), i, 0), image, quality=90)
            for i, image in enumerate(small_bgr_images(good_count, short_edge))]
    payloads = list(good)
    for number, position in enumerate(sorted(bad_positions)):
        body = (b"not an image " * 20) if number % 2 == 0 else (b"\xff\xd8\xff\xe0" + b"\x00" * 300)
        payloads.insert(position, recordio.pack(
            recordio.IRHeader(0, float(1000 + position), 1000 + position, 0), body))
    idx_path = write_rec(rec_path, payloads)
    truncated = recordio.pack_img(recordio.IRHeader(0, 2000.0, 2000, 0),
                                  small_bgr_images(1, short_edge)[0], quality=90)
    with open(rec_path, "ab") as f:
        # RecordIO framing (magic, cflag 0 | length) announcing the whole record, then only
        # half of it (a multiple of 4 bytes: a .rec file always is).
        f.write(struct.pack("<II", 0xCED7230A, len(truncated)) +
                truncated[:len(truncated) // 8 * 4])
    return idx_path


def write_image_folder(root, list_path):
    """Writes the reference photos as JPEG files under `root` at the paths of f_images.lst
    and copies that list to list_path; returns {id: (labels, path)}."""
    entries = read_list(os.path.join(REFERENCE_DIR, REFERENCE_STEM + ".lst"))
    for header, payload in reference_records():
        path = os.path.join(root, entries[int(header.id)][1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(payload)
    shutil.copy(os.path.join(REFERENCE_DIR, REFERENCE_STEM + ".lst"), list_path)
    return entries


def real_labels(batches):
    """The labels of the real (non-filler) samples of `batches`, in order, as ints."""
    labels = []
    for batch in batches:
        real = batch.label[0][:batch.label[0].shape[0] - (batch.pad or 0)]
        labels.extend(int(round(v)) for v in np.asarray(real).reshape(len(real), -1)[:, 0])
    return labels


def epoch(iterator):
    return list(iterator)

