"""pandas.read_csv throughput on a CSV made by bench/csv_bench (--keep).

Usage: /usr/bin/python3 bench/csv_pandas_bench.py FILE.csv [REPEATS]
Prints the best MB/s of REPEATS (default 3) runs of
pandas.read_csv(path, header=None, dtype=np.float32), the file page-cached.
"""

import os
import sys
import time

import numpy as np
import pandas


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    repeats = int(argv[2]) if len(argv) > 2 else 3
    megabytes = os.path.getsize(path) / float(1 << 20)
    with open(path, "rb") as handle:  # Page-cache the file first.
        while handle.read(1 << 24):
            pass
    best = float("inf")
    shape = None
    for _ in range(repeats):
        start = time.perf_counter()
        frame = pandas.read_csv(path, header=None, dtype=np.float32)
        best = min(best, time.perf_counter() - start)
        shape = frame.shape
    print("file: %.1f MB, %d rows x %d columns" % (megabytes, shape[0], shape[1]))
    print("pandas %s read_csv(dtype=float32): %8.1f MB/s" %
          (pandas.__version__, megabytes / best))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
