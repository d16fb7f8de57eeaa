"""iterd: MXNet mx.io-style data iterators served by the iterd daemon.

    import iterd
    it = iterd.NDArrayIter(data, label, batch_size=30, server="127.0.0.1:50051")
    for batch in it:
        batch.data[0]  # a NumPy array

The server address comes from the `server` keyword, or the ITERD_ADDRESS environment variable.
TLS and the bearer token come from the keywords root_certificates, certificate_chain, private_key
and token (every iterator and iterd.Client take them), or the ITERD_TLS_CA, ITERD_TLS_CERT,
ITERD_TLS_KEY and ITERD_TOKEN (or ITERD_TOKEN_FILE) environment variables: see iterd/security.py.
"""
from iterd.client import Client
from iterd.client import IteratorStats
from iterd.client import PipelineInfo
from iterd.client import ServerStats
from iterd.csv_iter import CSVIter
from iterd.data_iter import DataIter
from iterd.descriptors import DataBatch
from iterd.descriptors import DataDesc
from iterd.errors import DataLoss
from iterd.errors import FailedPrecondition
from iterd.errors import InvalidArgument
from iterd.errors import IterdError
from iterd.errors import NotFound
from iterd.errors import PermissionDenied
from iterd.errors import ResourceExhausted
from iterd.errors import Unauthenticated
from iterd.errors import Unavailable
from iterd.image_iter import ImageIter
from iterd.image_record_iter import ImageRecordInt8Iter
from iterd.image_record_iter import ImageRecordIter
from iterd.image_record_iter import ImageRecordUInt8Iter
from iterd.iterator_wrappers import PrefetchingIter
from iterd.iterator_wrappers import ResizeIter
from iterd.ndarray_iter import NDArrayIter
from iterd import recordio
from iterd.remote_iter import RemoteIter
from iterd.sharded_iter import DaemonFailure
from iterd.sharded_iter import ShardedIter
from iterd.sharded_iter import resolve_daemons

__all__ = [
    "Client", "CSVIter", "DaemonFailure", "DataBatch", "DataDesc", "DataIter", "DataLoss",
    "FailedPrecondition", "ImageIter", "ImageRecordInt8Iter", "ImageRecordIter",
    "ImageRecordUInt8Iter", "InvalidArgument", "IterdError", "IteratorStats", "NDArrayIter",
    "NotFound", "PermissionDenied", "PipelineInfo", "PrefetchingIter", "RemoteIter",
    "ResizeIter", "ShardedIter", "ResourceExhausted", "ServerStats", "Unauthenticated",
    "Unavailable", "image", "recordio", "resolve_daemons",
]


def __getattr__(name):
    """`iterd.image` on first use: it needs OpenCV (cv2), which the iterators do not."""
    if name == "image":
        import importlib
        return importlib.import_module("iterd.image")
    raise AttributeError("module 'iterd' has no attribute %r" % (name,))
