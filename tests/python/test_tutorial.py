"""MXNet's I/O tutorial, translated for iterd (tests/python/tutorial_snippets.py), run against a live daemon.

Every section's code runs in order in one namespace, from the daemon's data root (so that files the
snippets write, data.csv and ./data/caltech.rec, are where the daemon reads them), and the test
asserts what the tutorial prints. Figures the snippets show with plt.show() are written to PNG files
and compared with the committed docs/images ones (ITERD_UPDATE_DOCS=1 rewrites them), and
docs/tutorial.md must be what tools/render_tutorial.py renders from the same snippets.
"""
import ast
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import iterd
import tutorial_snippets
from mxnet_model import csv_epochs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_IMAGES = os.path.join(REPO, "examples", "sample", "images")
DOCS_IMAGES = os.path.join(REPO, "docs", "images")
DEFAULT_IM2REC_BIN = os.path.join(REPO, "bazel-bin", "tools", "im2rec", "im2rec")
SECTION_CODE = {title: code for title, _, code in tutorial_snippets.SECTIONS}


class Notebook(object):
    """Runs the tutorial's sections in one namespace and keeps what each printed and drew."""

    def __init__(self, capsys, figure_dir):
        self.namespace = {}
        self.capsys = capsys
        self.figure_dir = figure_dir
        self.section = None
        self.figures = {}  # (section title, n-th show) -> PNG path

    def run(self, title):
        self.section = title
        exec(compile(SECTION_CODE[title], "<tutorial: %s>" % title, "exec"),  # noqa: S102
             self.namespace)
        return self.capsys.readouterr().out

    def install_show(self):
        """plt.show() saves the figure (numbered per section) instead of opening a window."""
        plt = self.namespace["plt"]

        def show():
            key = (self.section, sum(1 for s, _ in self.figures if s == self.section))
            path = os.path.join(self.figure_dir, "%s-%d.png" % (
                re.sub(r"\W+", "_", self.section).strip("_").lower(), key[1]))
            plt.savefig(path, dpi=72)
            plt.close("all")
            self.figures[key] = path

        plt.show = show


def image_batch_labels(lst_path, count):
    """The labels of the first `count` lines of an im2rec .lst (the .rec's order)."""
    with open(lst_path) as f:
        return [float(line.split("\t")[1]) for line in f.readlines()[:count]]


def assert_figure_matches_docs(rendered, name):
    """The committed docs/images/`name` shows what the test drew (ITERD_UPDATE_DOCS=1 refreshes)."""
    import matplotlib.image
    committed = os.path.join(DOCS_IMAGES, name)
    if os.environ.get("ITERD_UPDATE_DOCS") == "1":
        shutil.copyfile(rendered, committed)
    assert os.path.exists(committed), "%s is missing: run with ITERD_UPDATE_DOCS=1" % committed
    drawn, expected = matplotlib.image.imread(rendered), matplotlib.image.imread(committed)
    assert drawn.shape == expected.shape
    # Same pixels up to anti-aliasing differences between matplotlib builds.
    assert np.abs(drawn - expected).mean() < 0.01, "%s differs from the test's drawing" % committed


@pytest.fixture
def notebook(address, data_root, monkeypatch, capsys, tmp_path):
    im2rec = os.environ.get("IM2REC_BIN", DEFAULT_IM2REC_BIN)
    if not os.access(im2rec, os.X_OK):
        pytest.fail("im2rec binary %s not found: bazel build //tools:im2rec or set IM2REC_BIN" %
                    im2rec)
    pytest.importorskip("matplotlib", reason="the tutorial draws with matplotlib "
                        "(python3-matplotlib, installed by tools/install_deps.sh)")
    monkeypatch.setenv("ITERD_ADDRESS", address)
    monkeypatch.setenv("ITERD_IM2REC", im2rec)
    monkeypatch.chdir(data_root)
    # The Caltech-101 stand-in: one folder per class.
    categories = data_root / "data" / "101_ObjectCategories"
    shutil.rmtree(data_root / "data", ignore_errors=True)
    shutil.copytree(SAMPLE_IMAGES, categories)
    book = Notebook(capsys, str(tmp_path))
    book.run("Setup")
    book.install_show()
    return book


def test_the_whole_tutorial_runs_against_iterd(notebook, data_root):
    ns = notebook.namespace

    # --- Reading data in memory (NDArrayIter): 100 rows, batches of 30, the last padded by 20.
    printed = notebook.run("Reading data in memory")
    assert printed.count("[[") >= 4 and printed.strip().endswith("20]")
    data, label = ns["data"], ns["label"]
    ns["data_iter"].reset()
    batches = list(ns["data_iter"])
    assert [b.pad for b in batches] == [0, 0, 0, 20]
    assert np.array_equal(np.concatenate([b.data[0] for b in batches])[:100],
                          data.astype(np.float32))
    assert np.array_equal(np.concatenate([b.label[0] for b in batches])[:100],
                          label.astype(np.float32))

    # --- CSVIter over the same rows, written by the snippet where the daemon reads it.
    printed = notebook.run("Reading data from CSV files")
    assert printed.strip().endswith("20]")
    assert (data_root / "data.csv").exists()
    csv_iter = ns["data_iter"]
    csv_iter.reset()  # The epoch ended on a padded batch: the next one continues after it.
    expected = csv_epochs(100, 30, True, 2)[1]
    batches = list(csv_iter)
    assert [b.pad for b in batches] == [pad for _, pad in expected] == [0, 0, 10]
    for batch, (rows, _) in zip(batches, expected):
        assert batch.index.tolist() == rows
        assert np.allclose(batch.data[0], data[rows].astype(np.float32), rtol=1e-6, atol=0)

    # --- The custom SimpleIter, as written (zip descriptors and all), feeding a NumPy MLP.
    assert notebook.run("Custom Iterator") == ""
    printed = notebook.run("Training with the custom iterator")
    epochs = re.findall(r"Epoch\[(\d)\] batches=(\d+) loss=([\d.]+)", printed)
    assert [(e, b) for e, b, _ in epochs] == [(str(i), "10") for i in range(5)]
    assert all(np.isfinite(float(loss)) for _, _, loss in epochs)
    simple = ns["data_iter"]
    assert [tuple(d) for d in simple.provide_data] == [("data", (32, 100))]
    assert [tuple(d) for d in simple.provide_label] == [("softmax_label", (32,))]
    assert notebook.run("A custom iterator around a remote one") == ""

    # --- RecordIO: sequential, indexed, pack/unpack, pack_img/unpack_img.
    printed = notebook.run("Record IO")
    assert printed.split() == ["b'record_%d'" % i for i in range(5)]
    printed = notebook.run("MXIndexedRecordIO")
    assert printed.splitlines() == ["b'record_3'", "[0, 1, 2, 3, 4]"]
    printed = notebook.run("Packing and unpacking binary data")
    assert printed.splitlines() == [
        "(HEADER(flag=0, label=1.0, id=1, id2=0), b'data')",
        "(HEADER(flag=3, label=array([1., 2., 3.], dtype=float32), id=2, id2=0), b'data')",
    ]
    printed = notebook.run("Packing and unpacking image data")
    assert printed.startswith("(HEADER(flag=0, label=1.0, id=0, id2=0), array([[")
    header, image = iterd.recordio.unpack_img(ns["s"])
    assert image.shape == (3, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - 1).max() <= 1  # JPEG at quality 100 of all ones.

    # --- iterd.image: decode, resize, random crop.
    notebook.run("Image IO: loading raw images")
    img = ns["img"]
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    printed = notebook.run("Image transformations")
    assert ns["tmp"].shape == (200, 150, 3)
    x0, y0, w, h = ast.literal_eval(printed.strip())
    assert (w, h) == (150, 200) and 0 <= x0 <= 320 - 150 and 0 <= y0 <= 240 - 200
    assert np.array_equal(ns["tmp"], img[y0:y0 + h, x0:x0 + w])
    assert len(notebook.figures) == 3

    # --- im2rec: the list of every image with its class, then the record file and index.
    printed = notebook.run("Converting images to RecordIO with im2rec")
    lst = data_root / "data" / "caltech.lst"
    with open(lst) as f:
        entries = [line.rstrip("\n").split("\t") for line in f]
    assert len(entries) == 24
    assert {(e[2].split("/")[0], float(e[1])) for e in entries} == {
        ("circle", 0.0), ("square", 1.0), ("triangle", 2.0)}
    assert (data_root / "data" / "caltech.rec").stat().st_size > 24 * 1000
    assert (data_root / "data" / "caltech.idx").exists()

    # --- ImageRecordIter: the first batch, 4 centre crops of 227x227, labels from the records.
    notebook.run("Using ImageRecordIter")
    batch = ns["batch"]
    assert batch.data[0].shape == (4, 3, 227, 227) and batch.pad == 0
    assert batch.label[0].tolist() == image_batch_labels(lst, 4)
    assert 0 <= batch.data[0].min() and batch.data[0].max() <= 255
    assert_figure_matches_docs(notebook.figures[("Using ImageRecordIter", 0)],
                               "tutorial_image_record_iter.png")

    # --- ImageIter over the .rec and .idx: the same records, the same labels.
    notebook.run("Using ImageIter")
    batch = ns["batch"]
    assert batch.data[0].shape == (4, 3, 227, 227)
    assert batch.label[0].tolist() == image_batch_labels(lst, 4)
    assert ("Using ImageIter", 0) in notebook.figures

    # --- Augmentation, ResizeIter, PrefetchingIter.
    printed = notebook.run("Augmented batches and iterator wrappers")
    lines = printed.splitlines()
    assert lines[0] == "[(8, 3, 96, 96), (8, 3, 96, 96), (8, 3, 96, 96)]"
    descriptors = ns["prefetched"].provide_data
    assert [(d.name, d.shape) for d in descriptors] == [("image", (8, 3, 64, 64)), ("row", (8, 1))]
    assert lines[2:] == ["DataBatch: data shapes: [(8, 3, 64, 64), (8, 1)] "
                         "label shapes: [(8,)]"] * 3
    assert_figure_matches_docs(notebook.figures[("Augmented batches and iterator wrappers", 0)],
                               "tutorial_augmented_batch.png")
    ns["prefetched"].close()

    # --- The captioning iterator: images and their captions stay paired, batch by batch.
    printed = notebook.run("The captioning iterator at work")
    lines = printed.splitlines()
    assert lines[1:] == ["DataBatch: data shapes: [(6, 3, 64, 64), (6, 12)] "
                         "label shapes: [(6,)]"] * 4
    captioned, captions = ns["captioned"], ns["captions"]
    captioned.reset()
    seen = [b.data[1] for b in captioned]
    assert np.array_equal(np.concatenate(seen), captions.astype(np.float32))


def test_docs_tutorial_is_rendered_from_the_tested_snippets():
    result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "render_tutorial.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
