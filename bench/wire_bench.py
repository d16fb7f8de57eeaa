#!/usr/bin/env python3
"""Measures how fast the Python client receives batches from iterd into NumPy arrays.

Opens an inline NDArray pipeline over a .npy file under the daemon's data root (ArraySource path,
output dtype = the file's dtype, so the daemon converts nothing) through the low-level
iterd.Client.open_config, reads a few epochs and prints one line:

    python_client_GBps=X

X counts batch payload bytes (tensors only) per second of wall time, after a warm-up epoch that
pages the file in. Details go to stderr. Run with the venv that has the iterd package:

    .venv/bin/python bench/wire_bench.py --address 127.0.0.1:PORT --pipeline-npy big.npy \
        --batch-size 64
"""
import argparse
import os
import sys
import time

import numpy as np

import iterd
from iterd.descriptors import wire_dtype
from iterd.v1 import pipeline_pb2


def npy_dtype(path, data_root):
    """The dtype in the .npy header (the file is read locally when it can be found)."""
    candidates = [path] if os.path.isabs(path) else [os.path.join(data_root or ".", path)]
    for candidate in candidates:
        if os.path.exists(candidate):
            return np.load(candidate, mmap_mode="r").dtype
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", required=True, help="daemon address HOST:PORT")
    parser.add_argument("--pipeline-npy", required=True,
                        help=".npy path as the daemon sees it (absolute or relative to its first "
                             "data root)")
    parser.add_argument("--data-root", default=None,
                        help="local path of the daemon's first data root, to read the dtype of a "
                             "relative --pipeline-npy (default: current directory)")
    parser.add_argument("--dtype", default=None,
                        help="dtype of the file when it cannot be read locally")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="measured epochs")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--max-batches", type=int, default=2, help="batches per Fetch window")
    args = parser.parse_args()

    dtype = np.dtype(args.dtype) if args.dtype else npy_dtype(args.pipeline_npy, args.data_root)
    if dtype is None:
        parser.error("cannot read %s locally: pass --dtype or --data-root" % args.pipeline_npy)

    config = pipeline_pb2.PipelineConfig()
    config.ndarray.data.add(name="data", path=args.pipeline_npy)
    config.ndarray.batch_size = args.batch_size
    config.ndarray.last_batch_handle = pipeline_pb2.DISCARD
    config.ndarray.dtype = wire_dtype(dtype)

    with iterd.Client(args.address) as client:
        with client.open_config(config, max_batches=args.max_batches) as it:
            print("provide_data=%s num_samples=%d" % (it.provide_data, it.num_samples),
                  file=sys.stderr)
            measured_bytes = 0
            measured_batches = 0
            start = None
            for epoch in range(args.warmup_epochs + args.epochs):
                if epoch == args.warmup_epochs:
                    start = time.perf_counter()
                if epoch:
                    it.reset()
                for batch in it:
                    if epoch >= args.warmup_epochs:
                        measured_bytes += sum(a.nbytes for a in batch.data + batch.label)
                        measured_batches += 1
            seconds = time.perf_counter() - start
    if measured_batches == 0:
        sys.exit("no batches: the file has fewer samples than --batch-size")
    print("batches=%d bytes=%d seconds=%.3f batch_size=%d dtype=%s max_batches=%d" % (
        measured_batches, measured_bytes, seconds, args.batch_size, dtype, args.max_batches),
        file=sys.stderr)
    print("python_client_GBps=%.3f" % (measured_bytes / seconds / 1e9))


if __name__ == "__main__":
    main()
