#!/usr/bin/env python3
"""The quick start's client: fetches batches of the bundled sample from a running iterd daemon
(NDArray, CSV and JPEG image pipelines).

    python examples/quickstart.py --server 127.0.0.1:50051
"""
import argparse
import time

import numpy as np

import iterd


def show(name, data_iter, epochs=2):
    print(f"\n== {name}")
    print("provide_data: ", data_iter.provide_data)
    print("provide_label:", data_iter.provide_label)
    batches = samples = payload = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        for i, batch in enumerate(data_iter):
            if epoch == 0 and i < 3:
                data, label = batch.data[0], batch.label[0]
                print(f"batch {i}: {batch}  pad={batch.pad}  "
                      f"data[0][:4]={[round(float(v), 3) for v in data.reshape(len(data), -1)[0][:4]]}  "
                      f"label[:8]={label[:8].tolist()}")
            batches += 1
            samples += batch.data[0].shape[0] - batch.pad
            payload += sum(a.nbytes for a in batch.data + batch.label)
        data_iter.reset()
    seconds = time.perf_counter() - start
    print(f"{batches} batches ({samples} samples) in {epochs} epochs: "
          f"{batches / seconds:.0f} batches/s, {payload / seconds / 1e6:.1f} MB/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="iterd address, HOST:PORT")
    args = parser.parse_args()

    client = iterd.Client(args.server)
    print("pipelines on the daemon:")
    for pipeline in client.list_pipelines():
        print(f"  {pipeline.name}: {pipeline.description}")

    # A named pipeline from the daemon's config.
    show("sample-digits (named NDArray pipeline)", client.open("sample-digits"))
    show("sample-csv (named CSV pipeline)", client.open("sample-csv"))
    # The same CSV file through the MXNet-shaped constructor.
    show("iterd.CSVIter(data_csv='train.csv', ...)",
         iterd.CSVIter(data_csv="train.csv", data_shape=(4,), label_csv="train_labels.csv",
                       batch_size=40, server=args.server))
    # Arrays in the client's memory, uploaded to the daemon (mx.io.NDArrayIter's signature).
    data = np.random.rand(100, 3)
    label = np.random.randint(0, 10, (100,))
    show("iterd.NDArrayIter(data, label, batch_size=30)",
         iterd.NDArrayIter(data=data, label=label, batch_size=30, server=args.server))
    # JPEGs packed by im2rec, decoded and augmented by the daemon's decoder threads.
    show("sample-shapes (named ImageRecordIter pipeline)", client.open("sample-shapes"))
    show("iterd.ImageRecordIter(path_imgrec='shapes.rec', data_shape=(3, 48, 48), ...)",
         iterd.ImageRecordIter(path_imgrec="shapes.rec", data_shape=(3, 48, 48), batch_size=6,
                               resize=56, rand_crop=True, rand_mirror=True,
                               server=args.server))


if __name__ == "__main__":
    main()
