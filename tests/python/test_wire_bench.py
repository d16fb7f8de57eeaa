"""bench/wire_bench.py runs against the daemon and prints its one result line."""
import os
import re
import subprocess
import sys

import numpy as np

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                     "wire_bench.py")


def test_wire_bench_prints_python_client_gbps(address, data_root):
    np.save(data_root / "bench_small.npy", np.ones((32, 3, 32, 32), dtype=np.uint8))
    result = subprocess.run(
        [sys.executable, BENCH, "--address", address, "--pipeline-npy", "bench_small.npy",
         "--data-root", str(data_root), "--batch-size", "8", "--epochs", "2"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"python_client_GBps=\d+\.\d+\n", result.stdout)
    # 2 measured epochs of 4 batches of 8 x 3 x 32 x 32 uint8.
    assert "batches=8 bytes=%d " % (8 * 8 * 3 * 32 * 32) in result.stderr
