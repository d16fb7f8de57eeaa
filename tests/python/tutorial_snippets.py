"""MXNet's "Iterators - Loading data" tutorial, rewritten for iterd: the tested source of docs/tutorial.md.

Each entry of SECTIONS is (title, prose, code). tests/python/test_tutorial.py runs every code block,
in order, in one namespace (as a notebook would), in a directory under the daemon's data root, and
asserts what the tutorial prints. tools/render_tutorial.py turns SECTIONS into docs/tutorial.md, and
the test checks that the committed file is what it renders, so the documentation never shows code
that was not run.

The translation is the one our users make: `mx.io.` -> `iterd.`, `mx.recordio.` ->
`iterd.recordio.`, `mx.image.` -> `iterd.image.`, NDArrays -> NumPy arrays (`mx.nd.array` ->
`np.array`, no `.asnumpy()`), the daemon's address in ITERD_ADDRESS (or a `server=` keyword), and
`python tools/im2rec.py` -> iterd's `im2rec` binary. Where the tutorial downloads data, the bundled
sample images (examples/sample/images, three classes of synthetic JPEGs) stand in.
"""

INTRO = """\
# Iterators: loading data with iterd

This is MXNet's I/O tutorial ("Iterators - Loading data") with iterd in place of `mx.io`: the data
iterators run in the iterd daemon, and the Python client hands out the same `DataBatch`es with
NumPy arrays. Every code block below is copied from `tests/python/tutorial_snippets.py`, which the
test suite runs against a live daemon (`tests/python/test_tutorial.py`); this file is generated from
it by `tools/render_tutorial.py`.

What changes from the MXNet text:

| MXNet | iterd |
|---|---|
| `import mxnet as mx` | `import iterd` |
| `mx.io.NDArrayIter`, `CSVIter`, `ImageRecordIter`, `DataIter`, `DataBatch`, `DataDesc` | `iterd.` the same names |
| `mx.img.ImageIter` / `mx.image.ImageIter` | `iterd.ImageIter` |
| `mx.recordio.*` | `iterd.recordio.*` |
| `mx.image.imdecode`, `imresize`, `random_crop`, ... | `iterd.image.*`, on NumPy arrays |
| `mx.nd.array(x)`, `x.asnumpy()` | `np.array(x)`, `x` |
| `python $MXNET_HOME/tools/im2rec.py` | `im2rec` (built with the daemon: `bazel-bin/tools/im2rec/im2rec`) |
| `mx.mod.Module(...).fit(data_iter)` | your trainer; below a few lines of NumPy |

The daemon's address comes from the environment, so the iterator calls read exactly as in MXNet:

```sh
bazel-bin/server/iterd --listen=127.0.0.1:50051 --data_root=$PWD &
export ITERD_ADDRESS=127.0.0.1:50051
```

(or pass `server="host:port"` to any iterator). Paths such as `data.csv` or `./data/caltech.rec` are
read by the daemon, relative to its first `--data_root`; run the snippets from that directory so that
files the client writes (the CSV file, the record files) are where the daemon looks.
"""

SECTIONS = [
    ("Setup", """\
Before diving into the details let's set up the environment by importing some required packages.
`matplotlib` draws the images (here into a PNG file instead of a notebook).
""", """\
import iterd
import os
import subprocess
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

import warnings
warnings.filterwarnings("ignore", category=DeprecationWarning)

IM2REC = os.environ.get("ITERD_IM2REC", "im2rec")
"""),
    ("Reading data in memory", """\
When data is stored in memory, backed by a NumPy array, we can use `NDArrayIter` to read it. The
arrays are uploaded to the daemon once; batches come back over gRPC.
""", """\
import numpy as np
data = np.random.rand(100,3)
label = np.random.randint(0, 10, (100,))
data_iter = iterd.NDArrayIter(data=data, label=label, batch_size=30)
for batch in data_iter:
    print([batch.data, batch.label, batch.pad])
"""),
    ("Reading data from CSV files", """\
`CSVIter` reads CSV files; the daemon parses them (in parallel blocks) and the client only receives
batches.
""", """\
#lets save `data` into a csv file first and try reading it back
np.savetxt('data.csv', data, delimiter=',')
data_iter = iterd.CSVIter(data_csv='data.csv', data_shape=(3,), batch_size=30)
for batch in data_iter:
    print([batch.data, batch.pad])
"""),
    ("Custom Iterator", """\
When the built-in iterators do not suit your application, create your own. An iterator should

1. implement `next()` (and `__next__()` in Python 3), returning a `DataBatch` or raising
   `StopIteration` at the end of the data stream;
2. implement `reset()` to restart reading from the beginning;
3. have a `provide_data` attribute: a list of `DataDesc` objects with the name, shape, type and
   layout of the data;
4. have a `provide_label` attribute: the same for the labels.

The tutorial's `SimpleIter`, with `mx.nd.array` replaced by `np.array`:
""", """\
class SimpleIter(iterd.DataIter):
    def __init__(self, data_names, data_shapes, data_gen,
                 label_names, label_shapes, label_gen, num_batches=10):
        self._provide_data = zip(data_names, data_shapes)
        self._provide_label = zip(label_names, label_shapes)
        self.num_batches = num_batches
        self.data_gen = data_gen
        self.label_gen = label_gen
        self.cur_batch = 0

    def __iter__(self):
        return self

    def reset(self):
        self.cur_batch = 0

    def __next__(self):
        return self.next()

    @property
    def provide_data(self):
        return self._provide_data

    @property
    def provide_label(self):
        return self._provide_label

    def next(self):
        if self.cur_batch < self.num_batches:
            self.cur_batch += 1
            data = [np.array(g(d[1])) for d,g in zip(self._provide_data, self.data_gen)]
            label = [np.array(g(d[1])) for d,g in zip(self._provide_label, self.label_gen)]
            return iterd.DataBatch(data, label)
        else:
            raise StopIteration
"""),
    ("Training with the custom iterator", """\
MXNet feeds `SimpleIter` to `mx.mod.Module(...).fit`. iterd has no training framework, so a
two-layer perceptron in NumPy (the tutorial's fc1 with 64 hidden units, relu, fc2, softmax) takes
its place; it consumes the iterator exactly as `fit` does: `reset()`, then batches until
`StopIteration`, for five epochs. (`SimpleIter` stores `zip` objects, which Python 3 can only iterate
once; `iterd.DataIter` keeps them as lists so the tutorial's class works as written.)
""", """\
num_classes = 10
n = 32
data_iter = SimpleIter(['data'], [(n, 100)],
                  [lambda s: np.random.uniform(-1, 1, s)],
                  ['softmax_label'], [(n,)],
                  [lambda s: np.random.randint(0, num_classes, s)])

rng = np.random.default_rng(0)
w1, b1 = rng.normal(0, 0.1, (100, 64)), np.zeros(64)
w2, b2 = rng.normal(0, 0.1, (64, num_classes)), np.zeros(num_classes)
for epoch in range(5):
    data_iter.reset()
    losses = []
    for batch in data_iter:
        x, y = batch.data[0], batch.label[0].astype(int)
        hidden = np.maximum(x @ w1 + b1, 0)                      # fc1 + relu1
        logits = hidden @ w2 + b2                                # fc2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)                        # softmax
        losses.append(-np.log(p[np.arange(len(y)), y]).mean())
        grad = p
        grad[np.arange(len(y)), y] -= 1
        grad /= len(y)
        grad_hidden = (grad @ w2.T) * (hidden > 0)
        w2 -= 0.1 * hidden.T @ grad; b2 -= 0.1 * grad.sum(axis=0)
        w1 -= 0.1 * x.T @ grad_hidden; b1 -= 0.1 * grad_hidden.sum(axis=0)
    print('Epoch[%d] batches=%d loss=%.3f' % (epoch, len(losses), np.mean(losses)))
"""),
    ("A custom iterator around a remote one", """\
The tutorial suggests, for image captioning, an iterator whose `next()` combines an `ImageRecordIter`
(multithreaded decoding and augmentation, here in the daemon) with a caption iterator. With iterd the
image half is remote and the caption half local; the combined iterator is an ordinary `DataIter`.
(It uses the record file packed in the Image IO section below.)
""", """\
class CaptionIter(iterd.DataIter):
    def __init__(self, image_iter, captions, batch_size):
        super().__init__(batch_size)
        self.image_iter = image_iter
        self.caption_iter = iterd.NDArrayIter(data=captions, batch_size=batch_size,
                                              data_name='caption')
        self.provide_data = image_iter.provide_data + self.caption_iter.provide_data
        self.provide_label = image_iter.provide_label

    def reset(self):
        self.image_iter.reset()
        self.caption_iter.reset()

    def next(self):
        images = self.image_iter.next()
        captions = self.caption_iter.next()
        return iterd.DataBatch(images.data + captions.data, images.label, pad=images.pad,
                               provide_data=self.provide_data, provide_label=self.provide_label)
"""),
    ("Record IO", """\
Record IO is the file format MXNet uses for data: `iterd.recordio` reads and writes the same bytes
(`MXRecordIO` for sequential access, `MXIndexedRecordIO` for random access), and the daemon serves
`.rec` files written by either.

### MXRecordIO

Writing and reading sequentially:
""", """\
record = iterd.recordio.MXRecordIO('tmp.rec', 'w')
for i in range(5):
    record.write('record_%d'%i)
record.close()

record = iterd.recordio.MXRecordIO('tmp.rec', 'r')
while True:
    item = record.read()
    if not item:
        break
    print (item)
record.close()
"""),
    ("MXIndexedRecordIO", """\
An indexed record file and its index, then random access by key, and the list of keys:
""", """\
record = iterd.recordio.MXIndexedRecordIO('tmp.idx', 'tmp.rec', 'w')
for i in range(5):
    record.write_idx(i, 'record_%d'%i)
record.close()

record = iterd.recordio.MXIndexedRecordIO('tmp.idx', 'tmp.rec', 'r')
print(record.read_idx(3))
print(record.keys)
"""),
    ("Packing and unpacking binary data", """\
`pack` and `unpack` store a float (or a 1-d array of floats) label and binary data behind an
`IRHeader`:
""", """\
# pack
data = 'data'
label1 = 1.0
header1 = iterd.recordio.IRHeader(flag=0, label=label1, id=1, id2=0)
s1 = iterd.recordio.pack(header1, data)

label2 = [1.0, 2.0, 3.0]
header2 = iterd.recordio.IRHeader(flag=3, label=label2, id=2, id2=0)
s2 = iterd.recordio.pack(header2, data)
# unpack
print(iterd.recordio.unpack(s1))
print(iterd.recordio.unpack(s2))
"""),
    ("Packing and unpacking image data", """\
`pack_img` and `unpack_img` (OpenCV's BGR order, as in MXNet); records packed by `pack_img` can be
loaded by `iterd.ImageRecordIter`:
""", """\
data = np.ones((3,3,1), dtype=np.uint8)
label = 1.0
header = iterd.recordio.IRHeader(flag=0, label=label, id=0, id2=0)
s = iterd.recordio.pack_img(header, data, quality=100, img_fmt='.jpg')
# unpack_img
print(iterd.recordio.unpack_img(s))
"""),
    ("Image IO: loading raw images", """\
`iterd.image.imdecode` decodes image bytes into an RGB `(height, width, 3)` uint8 array, as
`mx.image.imdecode` does (OpenCV underneath; the daemon decodes JPEGs with TurboJPEG). The tutorial
downloads ImageNet samples; the bundled sample images stand in for them.
""", """\
img = iterd.image.imdecode(open('data/101_ObjectCategories/circle/circle_00.jpg', 'rb').read())
plt.imshow(img); plt.show()
"""),
    ("Image transformations", """\
Resizing to `w x h`, and cropping a random `w x h` region (`random_crop` also returns where the crop
was taken, as `(x0, y0, w, h)`):
""", """\
# resize to w x h
tmp = iterd.image.imresize(img, 100, 70)
plt.imshow(tmp); plt.show()
# crop a random w x h region from image
tmp, coord = iterd.image.random_crop(img, (150, 200))
print(coord)
plt.imshow(tmp); plt.show()
"""),
    ("Converting images to RecordIO with im2rec", """\
The tutorial converts Caltech-101 (one folder per class) to RecordIO. Here the folders are the bundled
sample images copied to `./data/101_ObjectCategories` (`circle/`, `square/`, `triangle/`). First the
list of images and their classes (`index\\tlabel\\tpath` per line), then the record file; iterd's
`im2rec` takes MXNet's options and writes the same `.lst`, `.rec` and `.idx` files. (With the default
`--train-ratio 1.0`, MXNet's im2rec ignores `--test-ratio` and writes one list, `caltech.lst`.)
""", """\
os.system('%s --list=1 --recursive=1 --shuffle=1 --test-ratio=0.2 data/caltech data/101_ObjectCategories'%IM2REC)
os.system("%s --num-thread=4 --pass-through=1 data/caltech data/101_ObjectCategories"%IM2REC)
"""),
    ("Using ImageRecordIter", """\
`ImageRecordIter` loads images saved in RecordIO format; the daemon decodes, resizes and crops them on
its decoder threads. Create one by pointing it at the record file:
""", """\
data_iter = iterd.ImageRecordIter(
    path_imgrec="./data/caltech.rec", # the target record file
    data_shape=(3, 227, 227), # output data shape. An 227x227 region will be cropped from the original image.
    batch_size=4, # number of samples per batch
    resize=256 # resize the shorter edge to 256 before cropping
    # ... you can add more augumentation options as defined in ImageRecordIter.
    )
data_iter.reset()
batch = data_iter.next()
data = batch.data[0]
for i in range(4):
    plt.subplot(1,4,i+1)
    plt.imshow(data[i].astype(np.uint8).transpose((1,2,0)))
plt.show()
"""),
    ("Using ImageIter", """\
`ImageIter` reads images from RecordIO (with random access through the `.idx` file) or from raw image
files listed in a `.lst`:
""", """\
data_iter = iterd.ImageIter(batch_size=4, data_shape=(3, 227, 227),
                              path_imgrec="./data/caltech.rec",
                              path_imgidx="./data/caltech.idx" )
data_iter.reset()
batch = data_iter.next()
data = batch.data[0]
for i in range(4):
    plt.subplot(1,4,i+1)
    plt.imshow(data[i].astype(np.uint8).transpose((1,2,0)))
plt.show()
"""),
    ("Augmented batches and iterator wrappers", """\
The picture above is what the tutorial shows. With MXNet's augmentation options the daemon crops,
mirrors and jitters on its own threads. `iterd.ResizeIter` makes an epoch exactly `size` batches long
and `iterd.PrefetchingIter` fetches the next batch on a background thread while the trainer works
(here two iterators at once, renamed):
""", """\
augmented = iterd.ImageRecordIter(path_imgrec="./data/caltech.rec", data_shape=(3, 96, 96),
                                  batch_size=8, resize=112, rand_crop=True, rand_mirror=True,
                                  max_rotate_angle=15, brightness=0.3, contrast=0.3,
                                  saturation=0.3, seed_aug=7)
batch = augmented.next()
plt.figure(figsize=(8, 2))
for i in range(8):
    plt.subplot(1,8,i+1)
    plt.imshow(batch.data[0][i].astype(np.uint8).transpose((1,2,0)))
    plt.axis('off')
plt.show()

three_batches = iterd.ResizeIter(augmented, 3)
print([b.data[0].shape for b in three_batches])

prefetched = iterd.PrefetchingIter(
    [iterd.ImageRecordIter(path_imgrec="./data/caltech.rec", data_shape=(3, 64, 64),
                           batch_size=8, resize=64),
     iterd.NDArrayIter(data=np.arange(24).reshape(24, 1), batch_size=8)],
    rename_data=[{'data': 'image'}, {'data': 'row'}])
print(prefetched.provide_data)
for batch in prefetched:
    print(batch)
"""),
    ("The captioning iterator at work", """\
Back to the custom `CaptionIter` defined earlier: remote decoded images next to local caption word
ids (twelve per image here), batch by batch:
""", """\
captions = np.random.randint(0, 1000, (24, 12))
captioned = CaptionIter(iterd.ImageRecordIter(path_imgrec="./data/caltech.rec",
                                              data_shape=(3, 64, 64), batch_size=6, resize=64),
                        captions, batch_size=6)
print(captioned.provide_data)
for batch in captioned:
    print(batch)
"""),
]

# Figures the test run draws (the n-th plt.show() of a section -> docs/images/<file>), and the ones
# docs/tutorial.md shows under each section: {section title: [(file, caption), ...]}.
FIGURES = {
    "Using ImageRecordIter": [
        ("tutorial_image_record_iter.png",
         "The first batch of ImageRecordIter: 227x227 centre crops of the sample images"),
    ],
    "Augmented batches and iterator wrappers": [
        ("tutorial_augmented_batch.png",
         "A batch with random crops, mirroring, rotation and colour jitter (seed_aug=7)"),
    ],
}
