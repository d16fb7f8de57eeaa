"""Exceptions of the iterd client: one family, rooted at IterdError.

Every server error (a gRPC status) becomes the IterdError subclass of its code, carrying the
server's message unchanged. Arguments the client rejects before any network traffic raise
InvalidArgument, which is also a ValueError as Python code expects of bad arguments.

A connection that fails in the TLS handshake reaches Python as UNAVAILABLE with a terse transport
detail ("Ssl handshake failed: ... certificate verify failed", "Socket closed"); from_rpc_error
keeps that detail and says what it means in iterd's terms: which side expects TLS, whether the
daemon's certificate is not trusted or not valid for the name, that a client certificate may be
required. UNAUTHENTICATED and PERMISSION_DENIED keep the daemon's message (it names what was
refused, never the token).
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


class Unauthenticated(IterdError):
    """The daemon requires a bearer token and the call had none, or not a listed one."""
    default_code = grpc.StatusCode.UNAUTHENTICATED


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
    for cls in (InvalidArgument, NotFound, PermissionDenied, Unauthenticated, DataLoss,
                ResourceExhausted, FailedPrecondition, Unavailable)
}


def from_rpc_error(rpc_error, tls=None, client_certificate=False, explain_verify_failure=None):
    """Returns the IterdError for a grpc.RpcError (raised by a call or a stream).

    tls: whether the connection uses TLS (None: unknown, no transport hints);
    client_certificate: whether it presents one; explain_verify_failure: a callable giving the
    reason the daemon's certificate fails verification (or None), called only for that failure.
    """
    code = rpc_error.code() if hasattr(rpc_error, "code") else None
    details = rpc_error.details() if hasattr(rpc_error, "details") else None
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    message = details or str(rpc_error)
    if code == grpc.StatusCode.UNAVAILABLE and tls is not None:
        hint = _transport_hint(message, tls, client_certificate, explain_verify_failure)
        if hint:
            message = "%s [%s]" % (hint, message)
    cls = _CLASS_OF_CODE.get(code, IterdError)
    return cls(message, code)


# The settings of iterd/security.py (not imported: it imports this module).
_TRUST_SETTINGS = "root_certificates= or $ITERD_TLS_CA"
_CLIENT_CERTIFICATE_SETTINGS = ("certificate_chain= and private_key=, or $ITERD_TLS_CERT and "
                                "$ITERD_TLS_KEY")


def _transport_hint(details, tls, client_certificate, explain_verify_failure):
    """What an UNAVAILABLE transport detail means for the TLS settings, or None (a plain outage:
    connection refused, no route, a name that does not resolve)."""
    lowered = details.lower()
    # Closed while connecting (a stream cut later, by a daemon that stops, is no TLS matter).
    closed = "failed to connect" in lowered and ("socket closed" in lowered or
                                                 "connection reset" in lowered)
    if not tls:
        if closed or "handshake" in lowered:
            return ("the daemon closed the connection before answering: it may require TLS, "
                    "which this plaintext client does not use: give the daemon's CA certificate "
                    "with %s" % _TRUST_SETTINGS)
        return None
    if "wrong version number" in lowered or "wrong_version_number" in lowered or \
            "packet length too long" in lowered or "http request" in lowered:
        return ("TLS handshake failed: the daemon answered in plaintext; it does not serve TLS "
                "at this address (start it with --tls_cert_file/--tls_key_file, or connect "
                "without TLS settings to a loopback daemon)")
    if "certificate verify failed" in lowered or "certificate_verify_failed" in lowered:
        reason = None
        if explain_verify_failure is not None:
            try:
                reason = explain_verify_failure()
            except Exception:  # pylint: disable=broad-except
                reason = None  # Only an explanation: the error itself stands.
        return ("TLS handshake failed: the daemon's certificate was not trusted%s: it must chain "
                "to the CA of %s (without either, to the system's roots), be within its "
                "validity dates and name the host connected to" %
                ((" (%s)" % reason) if reason else "", _TRUST_SETTINGS))
    if "is not in peer certificate" in lowered or "hostname mismatch" in lowered or \
            "no match found for server name" in lowered:
        return ("TLS handshake failed: the daemon's certificate is not valid for the name "
                "connected to (its subject alternative names must include the address's host; "
                "Client(server_name=...) checks another name)")
    if closed:
        if client_certificate:
            return ("the daemon closed the connection during the TLS handshake: it may not "
                    "accept this client certificate (it must chain to the daemon's "
                    "--tls_client_ca_file and be valid now)")
        return ("the daemon closed the connection during the TLS handshake: it may require a "
                "client certificate (mutual TLS): give one with %s" %
                _CLIENT_CERTIFICATE_SETTINGS)
    if "handshake" in lowered or "ssl" in lowered or "tls" in lowered:
        return "TLS handshake with the daemon failed"
    return None
