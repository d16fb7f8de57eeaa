"""The wire IteratorState as a checkpoint-friendly dict (state_dict / load_state_dict).

The daemon describes an iterator's position with an iterd.v1.IteratorState message
(proto/iterd/v1/iterator_state.proto): positions only, a few dozen bytes. Clients keep it as a
small JSON-serialisable dict:

    {"format": "iterd.IteratorState/1", "state": "<base64 of the message>",
     "epoch": 3, "batches": 1250}

Only "format" and "state" are read back; "epoch" and "batches" (batches produced since the
iterator first opened) are there for people reading a checkpoint. The daemon checks the message
itself: a state of another configuration is FailedPrecondition, a damaged one InvalidArgument.
"""
import base64
import binascii
import warnings

from iterd import errors
from iterd.v1 import iterator_state_pb2

FORMAT = "iterd.IteratorState/1"

# Far above any real state (well under 1 KB): a bigger one is not ours.
_MAX_STATE_BYTES = 4096


def to_dict(state):
    """The dict form of an iterator_state_pb2.IteratorState."""
    if not state.version:
        raise errors.FailedPrecondition(
            "the daemon sent no iterator state (a daemon older than resumable iterators)")
    return {
        "format": FORMAT,
        "state": base64.b64encode(state.SerializeToString()).decode("ascii"),
        "epoch": int(state.epoch),
        "batches": int(state.sequence),
    }


def from_dict(state_dict):
    """The IteratorState in a dict made by to_dict(); InvalidArgument naming what is wrong."""
    if not isinstance(state_dict, dict):
        raise errors.InvalidArgument("an iterator state must be the dict state_dict() returned, "
                                     "not %s" % type(state_dict).__name__)
    if state_dict.get("format") != FORMAT:
        raise errors.InvalidArgument("iterator state: format %r is not %r" %
                                     (str(state_dict.get("format"))[:40], FORMAT))
    encoded = state_dict.get("state")
    if not isinstance(encoded, str) or len(encoded) > 2 * _MAX_STATE_BYTES:
        raise errors.InvalidArgument("iterator state: 'state' must be a base64 string of at most "
                                     "%d bytes" % _MAX_STATE_BYTES)
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
        with warnings.catch_warnings():
            # Some protobuf builds only warn about malformed bytes: make that an error.
            warnings.simplefilter("error")
            state = iterator_state_pb2.IteratorState.FromString(raw)
    except (binascii.Error, ValueError, UnicodeEncodeError, RuntimeWarning) as error:
        raise errors.InvalidArgument("iterator state: 'state' is not a base64 IteratorState "
                                     "(%s)" % str(error)[:80]) from None
    except Exception as error:  # pylint: disable=broad-except
        # protobuf's DecodeError
        raise errors.InvalidArgument("iterator state: 'state' is not an IteratorState (%s)" %
                                     str(error)[:80]) from None
    return state
