#!/usr/bin/env python3
"""Writes the bundled sample images (examples/sample/images/<class>/*.jpg) and packs them.

A stand-in for the tutorial's Caltech-101 folders, small enough to commit: 3 classes x 8 JPEGs of
synthetic scenes (a shape on a lit, grainy background), in landscape, portrait and square sizes,
so that resize, crop and aspect handling all have work to do. Deterministic (seeded): re-running it
rewrites the same bytes with the same OpenCV/libjpeg.

With --im2rec PATH it also packs them the way the tutorial does (list with --recursive, then pack
with --pass-through) into examples/sample/shapes.lst/.rec/.idx.

    /usr/bin/python3 examples/make_sample_images.py --im2rec bazel-bin/tools/im2rec/im2rec
"""
import argparse
import os
import subprocess

import cv2
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample")
CLASSES = ("circle", "square", "triangle")
IMAGES_PER_CLASS = 8
SIZES = ((320, 240), (240, 320), (288, 288))  # (width, height)


def scene(rng, shape_name, width, height):
    """BGR uint8: a two-colour gradient, grain, and one filled shape with an outline."""
    top, bottom = rng.integers(40, 216, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    image = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1))
    image += rng.normal(0.0, 6.0, size=image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    color = tuple(int(c) for c in rng.integers(0, 256, size=3))
    cx, cy = int(width * rng.uniform(0.35, 0.65)), int(height * rng.uniform(0.35, 0.65))
    r = int(min(width, height) * rng.uniform(0.18, 0.3))
    if shape_name == "circle":
        cv2.circle(image, (cx, cy), r, color, -1, cv2.LINE_AA)
        cv2.circle(image, (cx, cy), r, (0, 0, 0), 2, cv2.LINE_AA)
    elif shape_name == "square":
        cv2.rectangle(image, (cx - r, cy - r), (cx + r, cy + r), color, -1)
        cv2.rectangle(image, (cx - r, cy - r), (cx + r, cy + r), (0, 0, 0), 2)
    else:
        points = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
        cv2.fillPoly(image, [points], color, cv2.LINE_AA)
        cv2.polylines(image, [points], True, (0, 0, 0), 2, cv2.LINE_AA)
    return image


def write_images():
    rng = np.random.default_rng(2024)
    for label, shape_name in enumerate(CLASSES):
        folder = os.path.join(HERE, "images", shape_name)
        os.makedirs(folder, exist_ok=True)
        for i in range(IMAGES_PER_CLASS):
            width, height = SIZES[(i + label) % len(SIZES)]
            ok, encoded = cv2.imencode(".jpg", scene(rng, shape_name, width, height),
                                       [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            with open(os.path.join(folder, "%s_%02d.jpg" % (shape_name, i)), "wb") as f:
                f.write(encoded.tobytes())


def pack(im2rec):
    prefix = os.path.join(HERE, "shapes")
    root = os.path.join(HERE, "images")
    subprocess.run([im2rec, "--list", "--recursive", prefix, root], check=True)
    subprocess.run([im2rec, "--pass-through", "--num-thread", "1", prefix, root], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--im2rec", help="also pack images.rec/.idx with this im2rec binary")
    args = parser.parse_args()
    write_images()
    if args.im2rec:
        pack(args.im2rec)


if __name__ == "__main__":
    main()
