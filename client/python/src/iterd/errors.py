"""Exceptions of the iterd client: one family, rooted at IterdError.

Every server error (a gRPC status) becomes the IterdError subclass of its code, carrying the
server's message unchanged. Arguments the client rejects before any network traffic raise
InvalidArgument, which is also a ValueError as Python code expects of bad arguments.
"""
import grpc


class IterdError(Exception):
    """An error reported by the iterd daemon or detected by the client.

    Attributes:
      code: the grpc.StatusCode of the error (INVALID_ARGUMENT for client-side checks).
      message: the human-readable message (the server's own text for server errors).
    """

    default_code = grpc.StatusCode.UNKNOWN

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code if code is not None else self.default_code
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.code.name, self.message)


class InvalidArgument(IterdError, ValueError):
    default_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(IterdError):
    default_code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(IterdError):
    default_code = grpc.StatusCode.PERMISSION_DENIED


class DataLoss(IterdError):
    default_code = grpc.StatusCode.DATA_LOSS


class ResourceExhausted(IterdError):
    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(IterdError):
    default_code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(IterdError):
    default_code = grpc.StatusCode.UNAVAILABLE


_CLASS_OF_CODE = {
    cls.default_code: cls
    for cls in (InvalidArgument, NotFound, PermissionDenied, DataLoss, ResourceExhausted,
                FailedPrecondition, Unavailable)
}


def from_rpc_error(rpc_error):
    """Returns the IterdError for a grpc.RpcError (raised by a call or a stream)."""
    code = rpc_error.code() if hasattr(rpc_error, "code") else None
    details = rpc_error.details() if hasattr(rpc_error, "details") else None
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    cls = _CLASS_OF_CODE.get(code, IterdError)
    return cls(details or str(rpc_error), code)
