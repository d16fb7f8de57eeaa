"""Transport security of the client, in one place: TLS, mutual TLS and the bearer token.

Every Client resolves its security settings here (resolve()) and opens its channel here
(open_channel()); nothing else in the client reads certificates or tokens, so there is one place
to check what is sent where.

Settings, each from its keyword argument or else its environment variable (so that a training
script usually sets only the environment):

  root_certificates  $ITERD_TLS_CA    PEM CA certificates the daemon's certificate must chain to.
  certificate_chain  $ITERD_TLS_CERT  PEM client certificate (chain), for a daemon that requires
                                      mutual TLS (--tls_client_ca_file).
  private_key        $ITERD_TLS_KEY   PEM private key of certificate_chain.
  token              $ITERD_TOKEN     The bearer token (a daemon with --auth_token_file), or
                     $ITERD_TOKEN_FILE  a file holding it (surrounding whitespace stripped).

The three TLS arguments are a path (str or os.PathLike), or the PEM content itself (bytes, or a
str that starts a PEM block); the environment variables hold paths. Any TLS setting makes the
channel a TLS channel; root_certificates None with TLS on trusts the system's roots (gRPC's
default). Without any, the channel is plaintext, as a loopback daemon without TLS needs.

The token is sent as `authorization: Bearer TOKEN` metadata on every call of the channel (unary
and streaming) by one client interceptor, over TLS and plaintext alike (plaintext exposes it to
whoever can read the network: use TLS off the host). It appears in no repr, exception message or
log line; files are named in errors, their contents never.

Everything is checked before any connection: an unreadable file, a file without a PEM block, a key
without a certificate (or the reverse), a token that cannot be sent as metadata, each raises
iterd.InvalidArgument naming the argument (or variable) and the file.
"""
import os
import socket
import ssl

import grpc

from iterd import errors

ROOT_CERTIFICATES_ENVIRONMENT_VARIABLE = "ITERD_TLS_CA"
CERTIFICATE_CHAIN_ENVIRONMENT_VARIABLE = "ITERD_TLS_CERT"
PRIVATE_KEY_ENVIRONMENT_VARIABLE = "ITERD_TLS_KEY"
TOKEN_ENVIRONMENT_VARIABLE = "ITERD_TOKEN"
TOKEN_FILE_ENVIRONMENT_VARIABLE = "ITERD_TOKEN_FILE"
# The keyword arguments every iterator that opens its own Client takes and passes on.
KEYWORDS = ("root_certificates", "certificate_chain", "private_key", "token")
# gRPC's channel option for the name the daemon's certificate is checked against.
TARGET_NAME_OVERRIDE_OPTION = "grpc.ssl_target_name_override"
AUTHORIZATION_METADATA_KEY = "authorization"
# The handshake failure explanation (a second, Python-side handshake) waits no longer than this.
EXPLAIN_TIMEOUT_SECONDS = 2.0
# The daemon accepts tokens of 32..4096 printable characters; a larger file is not a token.
_MAX_TOKEN_FILE_BYTES = 64 << 10
_MAX_PEM_FILE_BYTES = 1 << 20


class ChannelSecurity(object):
    """Resolved settings of one channel.

    Attributes:
      credentials: grpc.ChannelCredentials for TLS, or None for a plaintext channel.
      tls: whether the channel uses TLS; client_certificate: whether it presents one (mTLS).
      root_certificates: the PEM bytes of the trusted CAs (None: the system's roots).
      has_token: whether calls carry a bearer token (the token itself is not an attribute).
    """

    __slots__ = ("credentials", "client_certificate", "root_certificates", "_metadata")

    def __init__(self, credentials, client_certificate, metadata, root_certificates=None):
        self.credentials = credentials
        self.client_certificate = client_certificate
        self.root_certificates = root_certificates
        self._metadata = metadata

    @property
    def tls(self):
        return self.credentials is not None

    @property
    def has_token(self):
        return bool(self._metadata)

    def __repr__(self):
        # Says what is configured, never the token.
        return "ChannelSecurity(tls=%s, client_certificate=%s, token=%s)" % (
            self.tls, self.client_certificate, "set" if self.has_token else "none")


def resolve(root_certificates=None, certificate_chain=None, private_key=None, token=None):
    """The ChannelSecurity of the arguments and, for those that are None, the environment.

    Raises InvalidArgument (naming the argument or variable, and the file) for anything that
    cannot work, before any network traffic.
    """
    roots = _pem_setting("root_certificates", root_certificates,
                         ROOT_CERTIFICATES_ENVIRONMENT_VARIABLE, "CERTIFICATE")
    chain = _pem_setting("certificate_chain", certificate_chain,
                         CERTIFICATE_CHAIN_ENVIRONMENT_VARIABLE, "CERTIFICATE")
    key = _pem_setting("private_key", private_key, PRIVATE_KEY_ENVIRONMENT_VARIABLE,
                       "PRIVATE KEY")
    if (chain is None) != (key is None):
        given, missing = (("private_key", "certificate_chain") if chain is None else
                          ("certificate_chain", "private_key"))
        raise errors.InvalidArgument(
            "%s is set but %s is not: a client certificate needs both (arguments, or $%s and "
            "$%s)" % (given, missing, CERTIFICATE_CHAIN_ENVIRONMENT_VARIABLE,
                      PRIVATE_KEY_ENVIRONMENT_VARIABLE))
    if chain is not None:
        _check_key_matches(chain, key)
    credentials = None
    if roots is not None or chain is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key,
                                                   certificate_chain=chain)
    secret = _token_setting(token)
    metadata = () if secret is None else ((AUTHORIZATION_METADATA_KEY, "Bearer " + secret),)
    return ChannelSecurity(credentials, chain is not None, metadata, roots)


def open_channel(address, security, options=(), server_name=None):
    """A grpc.Channel to `address` with `security` (a ChannelSecurity): TLS or plaintext, and
    the token interceptor when there is a token. server_name: the name the daemon's certificate
    must carry, when it is not the host of `address` (TLS only)."""
    options = list(options)
    if security.credentials is not None:
        if server_name:
            options.append((TARGET_NAME_OVERRIDE_OPTION, server_name))
        channel = grpc.secure_channel(address, security.credentials, options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    if security.has_token:
        # pylint: disable=protected-access
        channel = grpc.intercept_channel(channel, _TokenInterceptor(security._metadata))
    return channel


def explain_verify_failure(address, security, server_name=None,
                           timeout=EXPLAIN_TIMEOUT_SECONDS):
    """Why the daemon's certificate fails verification ("certificate has expired", "unable to
    get local issuer certificate", "Hostname mismatch ..."), or None if that cannot be told.

    gRPC only reports "certificate verify failed"; this makes one TLS handshake of its own with
    Python's ssl module (same roots, same name, no client certificate, bounded by `timeout`) and
    returns OpenSSL's verification message. Called only after gRPC's handshake failed."""
    host, port = _host_and_port(address)
    if host is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if security.root_certificates is not None:
        context.load_verify_locations(cadata=security.root_certificates.decode("ascii"))
    else:
        context.load_default_certs()
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            with context.wrap_socket(connection, server_hostname=server_name or host):
                return None  # Verifies now: nothing to explain.
    except ssl.SSLCertVerificationError as error:
        return error.verify_message or None
    except (OSError, ValueError):
        return None


def _host_and_port(address):
    """(host, port) of a gRPC "HOST:PORT" target (dns:/ipv4:/ipv6: prefixes allowed), or
    (None, None) for anything else (unix sockets, several addresses)."""
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if address.startswith(scheme):
            address = address[len(scheme):]
            break
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "," in address or "/" in address:
        return None, None
    return host, int(port)


# ----- Reading the settings -----

def _pem_setting(argument, value, variable, block):
    """PEM bytes of a TLS argument: the value (path or PEM), else the file named by $variable,
    else None."""
    if value is None:
        path = os.environ.get(variable, "").strip()
        if not path:
            return None
        return _read_pem(path, block, "$%s" % variable)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _checked_pem(bytes(value), block, "%s (PEM bytes)" % argument)
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return _checked_pem(value.encode("ascii", "replace"), block, "%s (PEM text)" % argument)
    try:
        path = os.fspath(value)
    except TypeError:
        raise errors.InvalidArgument("%s must be a path or PEM bytes, got a %s" %
                                     (argument, type(value).__name__)) from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise errors.InvalidArgument("%s is an empty path" % argument)
    return _read_pem(path, block, argument)


def _read_pem(path, block, source):
    try:
        with open(path, "rb") as f:
            content = f.read(_MAX_PEM_FILE_BYTES + 1)
    except OSError as error:
        raise errors.InvalidArgument("%s: cannot read %s: %s" %
                                     (source, path, error.strerror or error)) from None
    if len(content) > _MAX_PEM_FILE_BYTES:
        raise errors.InvalidArgument("%s: %s is larger than %d bytes: not a PEM file" %
                                     (source, path, _MAX_PEM_FILE_BYTES))
    return _checked_pem(content, block, "%s (%s)" % (source, path))


def _checked_pem(content, block, what):
    """`content` if it holds a PEM block of the kind (certificates are also parsed, so that a
    damaged file fails here and not as an obscure handshake error). Messages never quote it."""
    if ("-----BEGIN" not in content.decode("ascii", "replace") or
            ("%s-----" % block).encode() not in content):
        raise errors.InvalidArgument("%s holds no PEM %s block" % (what, block))
    if block == "PRIVATE KEY" and b"ENCRYPTED" in content:
        raise errors.InvalidArgument("%s is an encrypted private key, which gRPC cannot use: "
                                     "give the key unencrypted (readable by this user only)" %
                                     what)
    if block == "CERTIFICATE":
        try:
            ssl.create_default_context(cadata=content.decode("ascii"))
        except (ssl.SSLError, ValueError, UnicodeDecodeError) as error:
            reason = getattr(error, "reason", None) or type(error).__name__
            raise errors.InvalidArgument("%s: unreadable PEM certificate (%s)" %
                                         (what, reason)) from None
    return content


def _check_key_matches(chain, key):
    """InvalidArgument unless `key` is the private key of the first certificate of `chain`
    (gRPC itself only fails later, as an UNAVAILABLE "empty address list"). The PEM goes to
    OpenSSL through anonymous in-memory files: the key is never written to disk. Skipped where
    there are none (not Linux)."""
    if not hasattr(os, "memfd_create"):
        return
    descriptors = []
    try:
        for content in (chain, key):
            descriptor = os.memfd_create("iterd-pem", getattr(os, "MFD_CLOEXEC", 0))
            descriptors.append(descriptor)
            os.write(descriptor, content)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_cert_chain("/proc/self/fd/%d" % descriptors[0],
                                    "/proc/self/fd/%d" % descriptors[1])
        except ssl.SSLError as error:
            reason = error.reason or "unusable"
            if reason == "KEY_VALUES_MISMATCH":
                message = ("private_key is not the key of certificate_chain's certificate "
                           "(the arguments, or $%s and $%s)" %
                           (PRIVATE_KEY_ENVIRONMENT_VARIABLE,
                            CERTIFICATE_CHAIN_ENVIRONMENT_VARIABLE))
            else:
                message = ("certificate_chain and private_key cannot be used together (%s)" %
                           reason)
            raise errors.InvalidArgument(message) from None
    except OSError:
        return  # No /proc or memfd here: gRPC reports a mismatch when it connects.
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def _token_setting(token):
    """The token: the argument, else $ITERD_TOKEN, else the content of $ITERD_TOKEN_FILE; None
    when none is set. Messages name where it came from, never what it is."""
    if token is not None:
        if isinstance(token, (bytes, bytearray)):
            try:
                token = bytes(token).decode("ascii")
            except UnicodeDecodeError:
                raise errors.InvalidArgument("token must be printable ASCII") from None
        if not isinstance(token, str):
            raise errors.InvalidArgument("token must be a str, got a %s" % type(token).__name__)
        return _checked_token(token, "token")
    value = os.environ.get(TOKEN_ENVIRONMENT_VARIABLE, "")
    if value.strip():
        return _checked_token(value, "$%s" % TOKEN_ENVIRONMENT_VARIABLE)
    path = os.environ.get(TOKEN_FILE_ENVIRONMENT_VARIABLE, "").strip()
    if not path:
        return None
    source = "$%s (%s)" % (TOKEN_FILE_ENVIRONMENT_VARIABLE, path)
    try:
        with open(path, "rb") as f:
            content = f.read(_MAX_TOKEN_FILE_BYTES + 1)
    except OSError as error:
        raise errors.InvalidArgument("$%s: cannot read %s: %s" %
                                     (TOKEN_FILE_ENVIRONMENT_VARIABLE, path,
                                      error.strerror or error)) from None
    if len(content) > _MAX_TOKEN_FILE_BYTES:
        raise errors.InvalidArgument("%s is too large to hold a token" % source)
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise errors.InvalidArgument("%s: a token is printable ASCII" % source) from None
    return _checked_token(text, source)


def _checked_token(token, source):
    """The token with surrounding whitespace removed; it must then be non-empty printable ASCII
    without spaces (what gRPC metadata and the daemon accept). Lengths are the daemon's call."""
    token = token.strip()
    if not token:
        raise errors.InvalidArgument("%s is empty" % source)
    if any(not "!" <= character <= "~" for character in token):
        raise errors.InvalidArgument(
            "%s: a token is printable ASCII without spaces (this one is not; not shown)" % source)
    return token


# ----- The token on every call -----

class _CallDetails(grpc.ClientCallDetails):
    """A call's details with the token added to its metadata."""

    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)

    def __repr__(self):
        return "_CallDetails(method=%r)" % (self.method,)


class _TokenInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                        grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the authorization metadata to every call, whatever its kind: the one place the token
    leaves the process."""

    __slots__ = ("_metadata",)

    def __init__(self, metadata):
        self._metadata = tuple(metadata)

    def _details(self, details):
        return _CallDetails(details, tuple(details.metadata or ()) + self._metadata)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def __repr__(self):
        return "<iterd token interceptor>"
