"""End-to-end tests of the im2rec tool (//tools:im2rec) on real photos.

The photos are the 20 JPEGs of the MXNet reference file tests/testdata/mxnet-reference/f_images.rec
(real pictures from Debian packages, 300-600 px), extracted and laid out as a small folder tree.
Lists are checked against Python's own random.seed(100) shuffle (what MXNet's tools/im2rec.py
does); packed files are read back with iterd.recordio (mx.recordio's API).

The binary comes from $IM2REC_BIN (default bazel-bin/tools/im2rec/im2rec of this checkout).
"""
import os
import random
import subprocess

import cv2
import numpy as np
import pytest

from iterd import recordio

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(REPO, "tests", "testdata", "mxnet-reference")
DEFAULT_IM2REC_BIN = os.path.join(REPO, "bazel-bin", "tools", "im2rec", "im2rec")
EXTS = (".jpeg", ".jpg", ".png")


def im2rec_binary():
    binary = os.environ.get("IM2REC_BIN", DEFAULT_IM2REC_BIN)
    if not os.access(binary, os.X_OK):
        pytest.fail("im2rec binary %s not found: bazel build //tools:im2rec or set IM2REC_BIN" %
                    binary)
    return binary


def run_im2rec(*args, cwd=None):
    return subprocess.run([im2rec_binary()] + [str(a) for a in args], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)


def reference_photos():
    """(list path, JPEG bytes) of f_images.rec, in .lst order."""
    paths = {}
    with open(os.path.join(REFERENCE, "f_images.lst")) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            paths[int(fields[0])] = fields[-1]
    rec = recordio.MXIndexedRecordIO(os.path.join(REFERENCE, "f_images.idx"),
                                     os.path.join(REFERENCE, "f_images.rec"), "r")
    photos = []
    for key in rec.keys:
        header, payload = recordio.unpack(rec.read_idx(key))
        photos.append((paths[header.id], payload))
    rec.close()
    return photos


@pytest.fixture(scope="module")
def photo_root(tmp_path_factory):
    """root/{animals,things}/*.jpg, root/things/more/*.png, root/notes.txt: 10 real photos."""
    root = tmp_path_factory.mktemp("photos")
    photos = reference_photos()
    layout = [("animals", 4, ".jpg"), ("things", 4, ".jpg"), ("things/more", 2, ".png")]
    start = 0
    for folder, count, ext in layout:
        os.makedirs(root / folder, exist_ok=True)
        for path, payload in photos[start:start + count]:
            name = os.path.splitext(os.path.basename(path))[0] + ext
            if ext == ".png":
                image = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
                payload = cv2.imencode(".png", image)[1].tobytes()
            (root / folder / name).write_bytes(payload)
        start += count
    (root / "notes.txt").write_text("not an image")
    return root


def mxnet_list_image(root, recursive):
    """tools/im2rec.py 1.9.1 list_image, verbatim in behaviour."""
    i = 0
    if recursive:
        cat = {}
        for path, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            files.sort()
            for fname in files:
                fpath = os.path.join(path, fname)
                suffix = os.path.splitext(fname)[1].lower()
                if os.path.isfile(fpath) and suffix in EXTS:
                    if path not in cat:
                        cat[path] = len(cat)
                    yield (i, os.path.relpath(fpath, root), cat[path])
                    i += 1
    else:
        for fname in sorted(os.listdir(root)):
            fpath = os.path.join(root, fname)
            suffix = os.path.splitext(fname)[1].lower()
            if os.path.isfile(fpath) and suffix in EXTS:
                yield (i, os.path.relpath(fpath, root), 0)
                i += 1


def mxnet_list_text(items):
    return "".join("%d\t%f\t%s\n" % (i, label, path) for i, path, label in items)


def mxnet_make_list(root, recursive=True, shuffle=True, chunks=1, train_ratio=1.0,
                    test_ratio=0.0):
    """tools/im2rec.py 1.9.1 make_list: {file suffix: .lst text}."""
    image_list = list(mxnet_list_image(str(root), recursive))
    if shuffle:
        random.seed(100)
        random.shuffle(image_list)
    n = len(image_list)
    chunk_size = (n + chunks - 1) // chunks
    out = {}
    for c in range(chunks):
        chunk = image_list[c * chunk_size:(c + 1) * chunk_size]
        str_chunk = "_%d" % c if chunks > 1 else ""
        sep = int(chunk_size * train_ratio)
        sep_test = int(chunk_size * test_ratio)
        if train_ratio == 1.0:
            out[str_chunk] = mxnet_list_text(chunk)
        else:
            if test_ratio:
                out[str_chunk + "_test"] = mxnet_list_text(chunk[:sep_test])
            if train_ratio + test_ratio < 1.0:
                out[str_chunk + "_val"] = mxnet_list_text(chunk[sep_test + sep:])
            out[str_chunk + "_train"] = mxnet_list_text(chunk[sep_test:sep_test + sep])
    return out


def read_list(path):
    entries = []
    with open(path) as f:
        for line in f:
            fields = line.strip().split("\t")
            entries.append((int(fields[0]), [float(x) for x in fields[1:-1]], fields[-1]))
    return entries


def read_records(prefix):
    """[(key, header, payload)] in .idx order, through iterd.recordio."""
    rec = recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
    records = [(key,) + tuple(recordio.unpack(rec.read_idx(key))) for key in rec.keys]
    rec.close()
    return records


def decode(payload, flag=cv2.IMREAD_UNCHANGED):
    return cv2.imdecode(np.frombuffer(payload, np.uint8), flag)


def make_list(tmp_path, photo_root, name="images"):
    prefix = str(tmp_path / name)
    result = run_im2rec("--list", "--recursive", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    return prefix


def test_recursive_list_is_pythons_seed_100_shuffle_of_the_sorted_walk(tmp_path, photo_root):
    prefix = str(tmp_path / "images")
    result = run_im2rec("--list", "--recursive", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["images.lst"]
    assert open(prefix + ".lst").read() == mxnet_make_list(photo_root)[""]
    assert result.stdout == "animals 0\nthings 1\nthings/more 2\n"


def test_list_with_no_shuffle_keeps_traversal_order(tmp_path, photo_root):
    prefix = str(tmp_path / "ordered")
    result = run_im2rec("--list", "--recursive", "--no-shuffle", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    assert open(prefix + ".lst").read() == mxnet_make_list(photo_root, shuffle=False)[""]
    # MXNet 1.0's spelling gives the same list.
    result = run_im2rec("--list=1", "--recursive", "True", "--shuffle=0", prefix + "_old",
                        photo_root)
    assert result.returncode == 0, result.stderr
    assert open(prefix + "_old.lst").read() == open(prefix + ".lst").read()


def test_chunks_and_ratios_write_the_same_files_as_mxnet(tmp_path, photo_root):
    prefix = str(tmp_path / "split")
    result = run_im2rec("--list", "--recursive", "--chunks", "2", "--train-ratio", "0.6",
                        "--test-ratio", "0.2", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    expected = mxnet_make_list(photo_root, chunks=2, train_ratio=0.6, test_ratio=0.2)
    assert sorted(os.listdir(tmp_path)) == sorted("split%s.lst" % s for s in expected)
    for suffix, text in expected.items():
        assert open(prefix + suffix + ".lst").read() == text, suffix


def test_flat_list_takes_only_the_roots_images(tmp_path, photo_root):
    prefix = str(tmp_path / "flat")
    result = run_im2rec("--list", prefix, photo_root / "animals")
    assert result.returncode == 0, result.stderr
    expected = mxnet_list_image(str(photo_root / "animals"), False)
    items = list(expected)
    random.seed(100)
    random.shuffle(items)
    assert open(prefix + ".lst").read() == mxnet_list_text(items)


def test_pack_keeps_list_order_labels_ids_and_image_sizes(tmp_path, photo_root):
    prefix = make_list(tmp_path, photo_root)
    result = run_im2rec("--num-thread", "2", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    assert "10 records" in result.stderr and "skipped 0" in result.stderr
    entries = read_list(prefix + ".lst")
    records = read_records(prefix)
    assert [key for key, _, _ in records] == [index for index, _, _ in entries]
    for (index, labels, path), (key, header, payload) in zip(entries, records):
        assert header.flag == 0 and header.id == index and header.id2 == 0
        assert header.label == labels[0]
        assert payload[:2] == b"\xff\xd8"  # JPEG
        original = cv2.imread(str(photo_root / path), cv2.IMREAD_COLOR)
        assert decode(payload).shape == original.shape


def test_pack_output_is_identical_with_one_and_two_threads(tmp_path, photo_root):
    prefix = make_list(tmp_path, photo_root)
    assert run_im2rec("--num-thread", "1", prefix, photo_root).returncode == 0
    one = open(prefix + ".rec", "rb").read()
    assert run_im2rec("--num-thread", "2", prefix, photo_root).returncode == 0
    assert open(prefix + ".rec", "rb").read() == one


def test_resize_sets_the_shorter_edge_and_center_crop_makes_squares(tmp_path, photo_root):
    prefix = make_list(tmp_path, photo_root)
    assert run_im2rec("--resize", "64", prefix, photo_root).returncode == 0
    entries = read_list(prefix + ".lst")
    for (_, _, path), (_, _, payload) in zip(entries, read_records(prefix)):
        height, width = cv2.imread(str(photo_root / path)).shape[:2]
        expected = (height * 64 // width, 64) if height > width else (64, width * 64 // height)
        assert decode(payload).shape[:2] == expected, path
    assert run_im2rec("--resize", "48", "--center-crop", prefix, photo_root).returncode == 0
    assert {decode(p).shape for _, _, p in read_records(prefix)} == {(48, 48, 3)}


def test_pass_through_stores_the_files_bytes(tmp_path, photo_root):
    prefix = make_list(tmp_path, photo_root)
    result = run_im2rec("--pass-through", "--resize", "32", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    entries = read_list(prefix + ".lst")
    for (_, _, path), (_, _, payload) in zip(entries, read_records(prefix)):
        assert payload == (photo_root / path).read_bytes()


def test_pass_through_of_mxnets_list_reproduces_its_rec_and_idx(tmp_path):
    root = tmp_path / "root"
    for path, payload in reference_photos():
        os.makedirs(root / os.path.dirname(path), exist_ok=True)
        (root / path).write_bytes(payload)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "f_images.lst").write_bytes(open(os.path.join(REFERENCE, "f_images.lst"), "rb").read())
    result = run_im2rec("--pass-through", lists / "f_images", root)
    assert result.returncode == 0, result.stderr
    for ext in (".rec", ".idx"):
        assert (lists / ("f_images" + ext)).read_bytes() == \
            open(os.path.join(REFERENCE, "f_images" + ext), "rb").read(), ext


def test_pack_label_stores_every_label_of_multi_label_lines(tmp_path, photo_root):
    (tmp_path / "multi.lst").write_text("4\t1.000000\t2.500000\tanimals/%s\n7\t3.000000\tthings/%s\n" % (
        sorted(os.listdir(photo_root / "animals"))[0], sorted(os.listdir(photo_root / "things"))[0]))
    prefix = str(tmp_path / "multi")
    assert run_im2rec("--pack-label", prefix, photo_root).returncode == 0
    (_, first, _), (_, second, _) = read_records(prefix)
    assert first.flag == 2 and list(first.label) == [1.0, 2.5] and first.id == 4
    assert second.flag == 0 and second.label == 3.0 and second.id == 7
    assert run_im2rec(prefix, photo_root).returncode == 0  # without: first label only
    (_, first, _), _ = read_records(prefix)
    assert first.flag == 0 and first.label == 1.0


def test_png_encoding_and_gray_color(tmp_path, photo_root):
    prefix = make_list(tmp_path, photo_root)
    assert run_im2rec("--encoding", ".png", "--color", "0", prefix, photo_root).returncode == 0
    for _, _, payload in read_records(prefix):
        assert payload[:8] == b"\x89PNG\r\n\x1a\n"
        assert decode(payload).ndim == 2


def test_corrupt_image_is_reported_skipped_and_counted(tmp_path, photo_root):
    prefix = make_list(tmp_path, photo_root)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    with open(prefix + ".lst", "a") as f:
        f.write("99\t0.000000\t%s\n" % (tmp_path / "broken.jpg"))
        f.write("98\t0.000000\tno/such/file.jpg\n")
    result = run_im2rec("--num-thread", "2", prefix, photo_root)
    assert result.returncode == 0, result.stderr
    assert "broken.jpg" in result.stderr and "no/such/file.jpg" in result.stderr
    assert "10 records" in result.stderr and "skipped 2" in result.stderr
    assert [key for key, _, _ in read_records(prefix)] == \
        [index for index, _, _ in read_list(prefix + ".lst")][:10]


def test_nothing_packed_is_a_failure(tmp_path, photo_root):
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    (tmp_path / "only_bad.lst").write_text("0\t0.000000\t%s\n" % (tmp_path / "bad.jpg"))
    result = run_im2rec(tmp_path / "only_bad", photo_root)
    assert result.returncode != 0
    assert "bad.jpg" in result.stderr
    result = run_im2rec(tmp_path / "no_such_prefix", photo_root)
    assert result.returncode != 0
    assert "no_such_prefix" in result.stderr


def test_malformed_list_line_fails_naming_the_line(tmp_path, photo_root):
    (tmp_path / "bad.lst").write_text("0\t1.000000\tanimals/x.jpg\n1\tanimals/y.jpg\n")
    result = run_im2rec(tmp_path / "bad", photo_root)
    assert result.returncode != 0
    assert "bad.lst:2:" in result.stderr
    assert not (tmp_path / "bad.rec").exists()


def test_help_and_bad_options(tmp_path):
    result = run_im2rec("--help")
    assert result.returncode == 0 and "--pass-through" in result.stdout
    result = run_im2rec("--color", "3", tmp_path, tmp_path)
    assert result.returncode != 0 and "--color" in result.stderr
