#!/usr/bin/python3
"""Generates ImageNet-like JPEGs for the image pipeline benchmarks.

ImageNet's training JPEGs are mostly 500x375 photographs at quality ~94 with
4:4:4 chroma (mean ~109 KB). Decode cost depends on that profile (quality 90
4:2:0 decodes ~1.8x faster), so synthetic noise or flat images would give
misleading figures. The source photographs come from Debian's
mate-backgrounds package, fetched with `apt-get download` and unpacked with
`dpkg-deb -x` into a temp dir (nothing is installed). If that fails, smooth
random fields with added texture stand in (the profile line says which).

Each output image is a random crop (area fraction, aspect 4:3 or 3:4, mirror)
of a source photo resized to 500x375 (or 375x500), encoded with TurboJPEG
(through ctypes: OpenCV 4.6's Python binding cannot choose 4:4:4).

Writes OUT/images.rec + OUT/images.idx (iterd.recordio, label = i % classes)
and, with --files, OUT/files/<label>/<i>.jpg (the same bytes) for loaders that
read image folders. Prints one `profile ...` line.

  /usr/bin/python3 bench/make_imagenet_like.py OUT [--count 1000] [--files]
"""

import argparse
import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import types

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# iterd.recordio needs only numpy; the package's __init__ also imports the
# generated gRPC modules, which a source checkout may not have built. Load the
# package's modules without running its __init__.
_package = types.ModuleType("iterd")
_package.__path__ = [os.path.join(REPO, "client", "python", "src", "iterd")]
sys.modules.setdefault("iterd", _package)
from iterd import recordio  # noqa: E402

TJPF_BGR = 1
TJSAMP_444 = 0
TJSAMP_420 = 2


class TurboJpegEncoder(object):
    """tjCompress2 over ctypes: BGR uint8 -> JPEG bytes at a chosen sampling."""

    def __init__(self):
        name = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
        self._lib = ctypes.CDLL(name)
        self._lib.tjInitCompress.restype = ctypes.c_void_p
        self._lib.tjCompress2.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
            ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int,
            ctypes.c_int]
        self._lib.tjFree.argtypes = [ctypes.c_void_p]
        self._lib.tjDestroy.argtypes = [ctypes.c_void_p]
        self._handle = self._lib.tjInitCompress()
        if not self._handle:
            raise RuntimeError("tjInitCompress failed")

    def encode(self, bgr, quality, subsampling):
        bgr = np.ascontiguousarray(bgr)
        height, width = bgr.shape[:2]
        out = ctypes.c_void_p()
        size = ctypes.c_ulong(0)
        rc = self._lib.tjCompress2(
            self._handle, bgr.ctypes.data, width, int(bgr.strides[0]), height,
            TJPF_BGR, ctypes.byref(out), ctypes.byref(size), subsampling,
            quality, 0)
        if rc != 0:
            raise RuntimeError("tjCompress2 failed")
        data = ctypes.string_at(out, size.value)
        self._lib.tjFree(out)
        return data


def fetch_photos(workdir):
    """Photos from mate-backgrounds (nature/ and the large elephants), or []."""
    try:
        subprocess.run(["apt-get", "download", "mate-backgrounds"], cwd=workdir,
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
        debs = glob.glob(os.path.join(workdir, "mate-backgrounds_*.deb"))
        subprocess.run(["dpkg-deb", "-x", debs[0], os.path.join(workdir, "x")],
                       check=True, timeout=300)
    except (OSError, IndexError, subprocess.SubprocessError) as error:
        print("mate-backgrounds unavailable (%s): synthetic images" % error,
              file=sys.stderr)
        return []
    base = os.path.join(workdir, "x", "usr", "share", "backgrounds", "mate")
    paths = sorted(glob.glob(os.path.join(base, "nature", "*.jpg")))
    paths += glob.glob(os.path.join(base, "abstract", "Elephants_5640*.jpg"))
    photos = [image for image in (cv2.imread(p, cv2.IMREAD_COLOR)
                                  for p in paths) if image is not None]
    return photos


def synthetic_photo(rng, height=1600, width=2400):
    """A smooth random field with noise: a rough stand-in for a photograph."""
    small = rng.integers(0, 256, size=(height // 64, width // 64, 3),
                         dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = rng.normal(0, 12, size=(height, width, 3))
    return np.clip(image + texture, 0, 255).astype(np.uint8)


def random_view(rng, photo, min_area, max_area, grain):
    height, width = photo.shape[:2]
    portrait = rng.random() < 0.2  # "Mostly 500x375"; some portraits.
    aspect = 3.0 / 4.0 if portrait else 4.0 / 3.0  # width / height
    area = rng.uniform(min_area, max_area) * height * width
    # The largest crop of this aspect that fits bounds the area.
    crop_h = min(np.sqrt(area / aspect), height, width / aspect)
    crop_w = int(crop_h * aspect)
    crop_h = int(crop_h)
    y = int(rng.integers(0, height - crop_h + 1))
    x = int(rng.integers(0, width - crop_w + 1))
    view = photo[y:y + crop_h, x:x + crop_w]
    if rng.random() < 0.5:
        view = view[:, ::-1]
    size = (375, 500) if portrait else (500, 375)
    view = cv2.resize(view, size, interpolation=cv2.INTER_AREA)
    if grain > 0:
        # Sensor grain: the wallpapers are smoother than ImageNet's consumer
        # photos, and their JPEGs would come out too small and too fast.
        noise = rng.normal(0, grain, size=view.shape)
        view = np.clip(view + noise, 0, 255).astype(np.uint8)
    return view


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=1024)  # 16 batches of 64
    parser.add_argument("--quality", type=int, default=94)
    parser.add_argument("--subsampling", choices=["444", "420"], default="444")
    parser.add_argument("--classes", type=int, default=100)
    # Crop area as a fraction of the source photo: smaller crops are smoother
    # after upscaling, hence smaller files. This range gives ~109 KB here.
    parser.add_argument("--min-area", type=float, default=0.1)
    parser.add_argument("--max-area", type=float, default=1.0)
    parser.add_argument("--grain", type=float, default=4.2,
                        help="std of added Gaussian noise, in 8-bit levels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", action="store_true",
                        help="also write each JPEG under OUT/files/<label>/")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    workdir = tempfile.mkdtemp(prefix="iterd_photos.")
    try:
        photos = fetch_photos(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    source = "mate-backgrounds (%d photos)" % len(photos) if photos else (
        "synthetic")
    if not photos:
        photos = [synthetic_photo(rng) for _ in range(8)]

    encoder = TurboJpegEncoder()
    subsampling = TJSAMP_444 if args.subsampling == "444" else TJSAMP_420
    record = recordio.MXIndexedRecordIO(
        os.path.join(args.out, "images.idx"),
        os.path.join(args.out, "images.rec"), "w")
    sizes, shapes = [], {}
    for index in range(args.count):
        photo = photos[int(rng.integers(0, len(photos)))]
        view = random_view(rng, photo, args.min_area, args.max_area,
                           args.grain)
        jpeg = encoder.encode(view, args.quality, subsampling)
        label = index % args.classes
        header = recordio.IRHeader(0, float(label), index, 0)
        record.write_idx(index, recordio.pack(header, jpeg))
        if args.files:
            folder = os.path.join(args.out, "files", "%03d" % label)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "%05d.jpg" % index), "wb") as f:
                f.write(jpeg)
        sizes.append(len(jpeg))
        key = "%dx%d" % (view.shape[1], view.shape[0])
        shapes[key] = shapes.get(key, 0) + 1
    record.close()
    print("profile images=%d source=%s mean_kb=%.1f median_kb=%.1f "
          "quality=%d subsampling=4:%s sizes=%s" % (
              args.count, source.replace(" ", "_"), np.mean(sizes) / 1000,
              np.median(sizes) / 1000, args.quality,
              {"444": "4:4", "420": "2:0"}[args.subsampling],
              ",".join("%s:%d" % kv for kv in sorted(shapes.items()))))


if __name__ == "__main__":
    main()
