"""The every-cut resumption check shared by test_resume.py and test_resume_wrappers.py.

An uninterrupted run (epochs read to their end or to a limit, each followed by reset()) records
every batch byte for byte and the iterator's state_dict() after every step; then, on restarted
daemons, a freshly built iterator loads the JSON round-tripped state of each cut and must produce
the rest of the run exactly.
"""
import json

import numpy as np


def render(batch):
    """Everything a trainer sees of a batch, as bytes."""
    parts = [np.asarray(a).tobytes() for a in batch.data]
    parts += [np.asarray(a).tobytes() for a in (batch.label or [])]
    index = b"" if batch.index is None else np.asarray(batch.index).tobytes()
    return (b"|".join(parts), int(batch.pad or 0), index)


def run_operations(iterator, operations):
    """Performs `operations` ("next" or "reset"); returns the events they produced and the
    JSON of the state_dict() after each."""
    events, states = [], []
    for operation in operations:
        if operation == "reset":
            iterator.reset()
            events.append(("reset",))
        else:
            try:
                events.append(("batch", render(iterator.next())))
            except StopIteration:
                events.append(("end",))
        states.append(json.dumps(iterator.state_dict()))
    return events, states


def planned_run(iterator, plan):
    """The epochs of `plan` (batches to read in each; None: to the end of the epoch), each
    followed by reset(): the operations, the events and the states after each."""
    operations, events, states = [], [], []
    for limit in plan:
        read = 0
        while limit is None or read < limit:
            event, state = run_operations(iterator, ["next"])
            operations.append("next")
            events += event
            states += state
            read += 1
            if event[0] == ("end",):
                break
        event, state = run_operations(iterator, ["reset"])
        operations.append("reset")
        events += event
        states += state
    return operations, events, states


def assert_every_cut_resumes(make, address, restart, plan):
    """The uninterrupted run on `address`, then every cut resumed after restart()."""
    with make(address) as reference:
        initial = json.dumps(reference.state_dict())
        operations, events, states = planned_run(reference, plan)
    assert sum(1 for event in events if event[0] == "batch") >= 6
    assert ("end",) in events
    states.insert(0, initial)  # Cut 0: before anything was read.
    new_address = restart()
    for cut in range(len(events) + 1):
        with make(new_address) as resumed:
            resumed.load_state_dict(json.loads(states[cut]))
            rest, _ = run_operations(resumed, operations[cut:])
        assert rest == events[cut:], "cut %d of %d" % (cut, len(events))
