#!/usr/bin/python3
"""Writes the .npz fixtures of common/tensor/npy_test.cc with NumPy itself.

Run from this directory with /usr/bin/python3 (NumPy 1.24 made the committed
files). The test checks the values below, so keep them in sync:
  compressed.npz (np.savez_compressed, DEFLATED members):
    grid   = arange(12, dtype=int64).reshape(3, 4)
    ramp   = arange(5, dtype=float32) / 2
    flags  = array([True, False, True])
  stored.npz (np.savez, STORED members written with zip64 local headers):
    arr_0  = arange(6, dtype=uint8).reshape(2, 3)     (positional argument)
    halves = array([0.5, -2.0, 65504.0], dtype=float16)
"""
import numpy as np

np.savez_compressed(
    "compressed.npz",
    grid=np.arange(12, dtype=np.int64).reshape(3, 4),
    ramp=np.arange(5, dtype=np.float32) / 2,
    flags=np.array([True, False, True]),
)
np.savez(
    "stored.npz",
    np.arange(6, dtype=np.uint8).reshape(2, 3),
    halves=np.array([0.5, -2.0, 65504.0], dtype=np.float16),
)
