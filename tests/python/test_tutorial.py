"""The mx.io tutorial's snippets, run as written with `mx.io.` replaced by `iterd.`.

The server address comes from ITERD_ADDRESS, so the snippet text is otherwise unchanged.
"""
import numpy as np

import iterd
from mxnet_model import csv_epochs

READING_DATA_IN_MEMORY = """
import numpy as np
data = np.random.rand(100,3)
label = np.random.randint(0, 10, (100,))
data_iter = mx.io.NDArrayIter(data=data, label=label, batch_size=30)
for batch in data_iter:
    print([batch.data, batch.label, batch.pad])
"""

READING_DATA_FROM_CSV_FILES = """
#lets save `data` into a csv file first and try reading it back
np.savetxt('data.csv', data, delimiter=',')
data_iter = mx.io.CSVIter(data_csv='data.csv', data_shape=(3,), batch_size=30)
for batch in data_iter:
    print([batch.data, batch.pad])
"""


def run_snippet(text, namespace):
    exec(text.replace("mx.io.", "iterd."), namespace)  # pylint: disable=exec-used


def test_tutorial_snippets_run_with_iterd(address, data_root, monkeypatch, capsys):
    monkeypatch.setenv("ITERD_ADDRESS", address)
    monkeypatch.chdir(data_root)  # The CSV snippet writes data.csv where the daemon reads it.
    namespace = {"iterd": iterd}

    run_snippet(READING_DATA_IN_MEMORY, namespace)
    printed = capsys.readouterr().out
    assert printed.count("[[") >= 4 and printed.strip().endswith("20]")
    data, label = namespace["data"], namespace["label"]
    namespace["data_iter"].reset()
    batches = list(namespace["data_iter"])
    assert [b.pad for b in batches] == [0, 0, 0, 20]
    got = np.concatenate([b.data[0] for b in batches])[:100]
    assert np.array_equal(got, data.astype(np.float32))
    assert np.array_equal(np.concatenate([b.label[0] for b in batches])[:100],
                          label.astype(np.float32))

    run_snippet(READING_DATA_FROM_CSV_FILES, namespace)
    printed = capsys.readouterr().out
    assert printed.strip().endswith("20]")
    assert (data_root / "data.csv").exists()
    csv_iter = namespace["data_iter"]
    csv_iter.reset()  # The epoch ended on a padded batch: the next one continues after it.
    expected = csv_epochs(100, 30, True, 2)[1]
    batches = list(csv_iter)
    assert [b.pad for b in batches] == [pad for _, pad in expected] == [0, 0, 10]
    for batch, (rows, _) in zip(batches, expected):
        assert batch.index.tolist() == rows
        assert np.allclose(batch.data[0], data[rows].astype(np.float32), rtol=1e-6, atol=0)
