#!/usr/bin/env python3
"""Writes the small sample dataset the quick start serves (examples/sample/).

Deterministic (seeded), so re-running it reproduces the committed files byte for byte:
- train.csv / train_labels.csv: 150 rows of 4 features in 3 Gaussian clusters (iris-sized), and
  their class labels, for CSVIter;
- digits.npy / digits_labels.npy: 128 images of 1x28x28 uint8 (a bright bar whose position is the
  label, 0..9) and their labels, for NDArrayIter.
"""
import os

import numpy as np

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample")
rng = np.random.default_rng(7)

centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.5, 2.0]])
labels = np.repeat(np.arange(3), 50)
features = centers[labels] + rng.normal(0.0, 0.3, size=(150, 4))
np.savetxt(os.path.join(here, "train.csv"), features, fmt="%.3f", delimiter=",")
np.savetxt(os.path.join(here, "train_labels.csv"), labels, fmt="%d")

digit_labels = rng.integers(0, 10, size=128)
images = rng.integers(0, 40, size=(128, 1, 28, 28), dtype=np.uint8)
for i, label in enumerate(digit_labels):
    images[i, 0, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
np.save(os.path.join(here, "digits.npy"), images)
np.save(os.path.join(here, "digits_labels.npy"), digit_labels.astype(np.int64))
