"""Reference model of MXNet 1.9.1's batching, restated from docs/mxnet-semantics.md §7.3 and §8.

The tests compare the daemon's batches with these sample sequences; test_mxnet_model.py pins the
model itself to the reference's worked examples.
"""


def ndarray_epochs(num_samples, batch_size, last_batch_handle, epochs):
    """NDArrayIter without shuffle: per epoch, a list of (sample positions, pad) per batch."""
    cursor = -batch_size
    cached_tail = None
    result = []
    for epoch in range(epochs):
        if epoch > 0:  # reset(); the constructor's own reset leaves cursor at -B.
            if (last_batch_handle == "roll_over" and
                    num_samples - batch_size < cursor < num_samples):
                cursor = cursor - num_samples - batch_size
            else:
                cursor = -batch_size
        batches = []
        while True:
            cursor += batch_size
            if cursor >= num_samples:
                break
            if last_batch_handle == "roll_over" and -batch_size < cursor < 0:
                samples = list(cached_tail) + list(range(0, cursor + batch_size))
                cached_tail = None
                batches.append((samples, -cursor))
                continue
            if last_batch_handle == "pad" and cursor + batch_size > num_samples:
                pad = cursor + batch_size - num_samples
                samples = list(range(cursor, num_samples))
                samples += list(range(num_samples)) * (pad // num_samples)
                samples += list(range(pad % num_samples))
                batches.append((samples, pad))
                continue
            samples = list(range(cursor, min(cursor + batch_size, num_samples)))
            if len(samples) < batch_size:
                cached_tail = samples
                break
            batches.append((samples, 0))
        result.append(batches)
    return result


def csv_epochs(num_rows, batch_size, round_batch, epochs):
    """CSVIter (BatchLoader): per epoch, a list of (real rows, pad) per batch.

    With round_batch the rows list includes the wrapped rows (rows == index); without it only
    the real rows are listed (the filler positions are the daemon's zeros).
    """
    position = 0
    result = []
    for _ in range(epochs):
        if not round_batch:
            position = 0
        batches = []
        while position < num_rows:
            rows = list(range(position, min(position + batch_size, num_rows)))
            position += len(rows)
            pad = batch_size - len(rows)
            if pad and round_batch:
                wrapped = [r % num_rows for r in range(pad)]
                rows += wrapped
                position = pad  # The next epoch continues after the wrapped rows.
                batches.append((rows, pad))
                break
            batches.append((rows, pad))
        else:
            position = 0  # Ended on a batch boundary: the next epoch rewinds.
        result.append(batches)
    return result
