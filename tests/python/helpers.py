"""Helpers shared by the Python end-to-end tests."""
import time

import numpy as np

import iterd


def write_rows_csv(path, num_rows, columns=2):
    """Row r holds r*10, r*10+1, ... (so every value tells its row and column)."""
    with open(path, "w") as f:
        for row in range(num_rows):
            f.write(",".join(str(row * 10 + c) for c in range(columns)) + "\n")


def assert_daemon_serves(address):
    """A fresh iterator on the daemon still returns correct batches."""
    with iterd.NDArrayIter(np.arange(6).reshape(6, 1), np.arange(6), batch_size=4,
                           server=address) as it:
        batches = list(it)
    assert [b.data[0][:, 0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 0, 1]]
    assert [b.pad for b in batches] == [0, 2]


def wait_for(condition, timeout):
    """Polls `condition` every 0.1 s until it holds or `timeout` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
