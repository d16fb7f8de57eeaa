"""Client: a connection to one iterd daemon and the calls of the DataIterService.

A Client owns a gRPC channel. It opens iterators (named pipelines, or inline configs with arrays
uploaded in the OpenIterator stream) and returns RemoteIter objects that pull batches through it.
Thread-safe: a channel may be shared by several iterators and threads (each iterator itself is
used by one thread at a time).

Security (iterd/security.py): TLS, a client certificate for mutual TLS and a bearer token come
from the Client's keyword arguments or the ITERD_TLS_CA / ITERD_TLS_CERT / ITERD_TLS_KEY /
ITERD_TOKEN / ITERD_TOKEN_FILE environment variables; the token rides on every call.
"""
import collections
import ipaddress
import os
import socket

import grpc
import numpy as np

from iterd import errors
from iterd import security
from iterd._lifecycle import exiting
from iterd.allocator import tune_allocator
from iterd.remote_iter import RemoteIter
from iterd.v1 import pipeline_pb2
from iterd.v1 import service_pb2
from iterd.v1 import service_pb2_grpc

ADDRESS_ENVIRONMENT_VARIABLE = "ITERD_ADDRESS"
# "0" or "1": whether clients ask for same-host shared memory (default: for loopback addresses).
SHARED_MEMORY_ENVIRONMENT_VARIABLE = "ITERD_SHARED_MEMORY"
# Batches arrive in ~4 MB chunks; 64 MB leaves room for daemons configured with larger chunks.
MAX_MESSAGE_BYTES = 64 << 20
# Inline arrays are uploaded in messages of this size (the daemon's own chunk size).
UPLOAD_CHUNK_BYTES = 4 << 20
DEFAULT_MAX_BATCHES = 2

PipelineInfo = collections.namedtuple("PipelineInfo", ["name", "description", "config"])
ServerStats = collections.namedtuple(
    "ServerStats",
    ["open_iterators", "iterators_opened", "iterators_expired", "batches_served", "bytes_served"])
# Counters of one iterator (GetIteratorStats); skipped_examples: "file:offset: reason" strings.
IteratorStats = collections.namedtuple(
    "IteratorStats",
    ["batches_produced", "records_decoded", "records_skipped", "skipped_examples"])


def resolve_address(address):
    """The daemon address: `address` if given, else $ITERD_ADDRESS; InvalidArgument if neither."""
    if address:
        return address
    address = os.environ.get(ADDRESS_ENVIRONMENT_VARIABLE, "")
    if not address:
        raise errors.InvalidArgument(
            "no iterd server address: pass server='HOST:PORT' (or Client('HOST:PORT')) or set "
            "the %s environment variable" % ADDRESS_ENVIRONMENT_VARIABLE)
    return address


def resolve_max_batches(max_batches, in_flight):
    """Batches per Fetch window from the max_batches / in_flight keywords (aliases)."""
    if max_batches is not None and in_flight is not None and max_batches != in_flight:
        raise errors.InvalidArgument("max_batches=%r and in_flight=%r disagree" %
                                     (max_batches, in_flight))
    value = max_batches if max_batches is not None else in_flight
    if value is None:
        return DEFAULT_MAX_BATCHES
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise errors.InvalidArgument("max_batches (in_flight) must be a positive integer, got %r" %
                                     (value,))
    return int(value)


def is_loopback_address(address):
    """True for a daemon on this host: 127.x.y.z, ::1 or localhost (with a port, optionally
    after gRPC's dns:/ipv4:/ipv6: prefixes) and unix: sockets."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if address.startswith(scheme):
            address = address[len(scheme):]
            break
    if address.startswith("["):
        host = address[1:].split("]", 1)[0]
    elif address.count(":") == 1:
        host = address.split(":", 1)[0]
    else:
        host = address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_shared_memory(shared_memory, address):
    """Whether to ask for shared memory: `shared_memory` if given, else $ITERD_SHARED_MEMORY
    ("0"/"1"), else whether the address is a loopback one."""
    if shared_memory is not None:
        return bool(shared_memory)
    setting = os.environ.get(SHARED_MEMORY_ENVIRONMENT_VARIABLE, "").strip()
    if setting:
        return setting not in ("0", "false", "no", "off")
    return is_loopback_address(address)


def client_description():
    return "python pid=%d host=%s" % (os.getpid(), socket.gethostname())


def open_with_own_client(server, config, **security_keywords):
    """Opens an inline pipeline on a new Client; returns (client, OpenIteratorResponse, the
    OpenIterator message sent).

    For iterators that own their connection (mx.io-style constructors): the client is closed
    again if the open fails, so a bad argument leaks no channel. security_keywords: the Client's
    root_certificates, certificate_chain, private_key and token.
    """
    client = Client(server, **security_keywords)
    open_message = service_pb2.OpenIterator(config=config, client=client_description())
    try:
        response = client.open_iterator_response(open_message)
    except BaseException:
        client.close()
        raise
    return client, response, open_message


class Client(object):
    """A connection to an iterd daemon (mirrors the daemon's DataIterService)."""

    def __init__(self, address=None, shared_memory=None, *, root_certificates=None,
                 certificate_chain=None, private_key=None, token=None, server_name=None):
        """
        Args:
          address: "HOST:PORT" of the daemon (None: $ITERD_ADDRESS).
          shared_memory: ask the daemon for a same-host shared-memory region per iterator, so
            that batch payloads never cross the socket (the byte stream is used whenever the
            region cannot be mapped). None: $ITERD_SHARED_MEMORY, else only for loopback
            addresses (with or without TLS: the region is handed over on a local socket).
          root_certificates: PEM CA certificates the daemon's certificate must chain to, as a
            path or PEM bytes (None: $ITERD_TLS_CA; with TLS on and neither, the system roots).
          certificate_chain, private_key: this client's certificate and key (path or PEM bytes),
            for a daemon that requires mutual TLS (None: $ITERD_TLS_CERT, $ITERD_TLS_KEY).
          token: the bearer token the daemon's --auth_token_file lists (None: $ITERD_TOKEN, else
            the content of the file $ITERD_TOKEN_FILE names). Sent on every call.
          server_name: the name the daemon's certificate is checked against when it is not the
            host of `address` (the many-daemon iterator connects to the addresses a DNS name
            resolves to, and checks the certificate against that name).

        Any TLS setting makes this a TLS connection; without one it is plaintext. Settings are
        checked here, before any connection (iterd.InvalidArgument naming the argument).
        """
        self.address = resolve_address(address)
        self._security = security.resolve(root_certificates, certificate_chain, private_key,
                                          token)
        self.wants_shared_memory = resolve_shared_memory(shared_memory, self.address)
        # A process that opens a client receives batches at GB/s: keep glibc from returning the
        # per-message buffers to the kernel (see iterd/allocator.py; ITERD_TUNE_MALLOC=0 opts out).
        tune_allocator()
        self._closed = False
        self._server_name = server_name
        self._channel = security.open_channel(
            self.address, self._security,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
            server_name=server_name)
        self._stub = service_pb2_grpc.DataIterServiceStub(self._channel)
        # Fetch responses stay serialized bytes: chunks are copied out without a protobuf parse.
        self._fetch_raw = self._channel.unary_stream(
            "/iterd.v1.DataIterService/Fetch",
            request_serializer=service_pb2.FetchRequest.SerializeToString,
            response_deserializer=None)

    @property
    def tls(self):
        """Whether the connection uses TLS."""
        return self._security.tls

    def __repr__(self):
        return "iterd.Client(%r, %r)" % (self.address, self._security)

    def error(self, rpc_error):
        """The IterdError of a grpc.RpcError of this connection (TLS hints as fits it)."""
        return errors.from_rpc_error(
            rpc_error, tls=self._security.tls,
            client_certificate=self._security.client_certificate,
            explain_verify_failure=lambda: security.explain_verify_failure(
                self.address, self._security, self._server_name))

    # ----- Opening iterators -----

    def open(self, name, batch_size=None, shuffle=None, seed=None, num_parts=None,
             part_index=None, max_batches=None, in_flight=None):
        """Opens the named pipeline of the daemon's config, with optional overrides."""
        overrides = service_pb2.PipelineOverrides()
        for field, value in (("batch_size", batch_size), ("shuffle", shuffle), ("seed", seed),
                             ("num_parts", num_parts), ("part_index", part_index)):
            if value is not None:
                setattr(overrides, field, value)
        if batch_size is not None and batch_size <= 0:
            raise errors.InvalidArgument("batch_size must be > 0, got %r" % (batch_size,))
        window = resolve_max_batches(max_batches, in_flight)
        open_message = service_pb2.OpenIterator(name=name, overrides=overrides,
                                                client=client_description())
        return self._open_iterator(open_message, (), window)

    def open_config(self, config, arrays=(), max_batches=None, in_flight=None,
                    iterator_class=RemoteIter, owns_client=False):
        """Opens an inline pipeline.

        Args:
          config: a pipeline_pb2.PipelineConfig.
          arrays: the inline arrays in the protocol's order (NDArrayConfig data then label,
            inline ones only), as C-contiguous little-endian NumPy arrays of the declared dtype.
          max_batches / in_flight: batches per Fetch window (default 2).
          iterator_class: RemoteIter or a subclass to return.
          owns_client: the iterator closes this client when it is closed.
        """
        if not isinstance(config, pipeline_pb2.PipelineConfig):
            raise errors.InvalidArgument("config must be an iterd.v1.PipelineConfig")
        window = resolve_max_batches(max_batches, in_flight)
        open_message = service_pb2.OpenIterator(config=config,
                                                client=client_description())
        return self._open_iterator(open_message, arrays, window, iterator_class, owns_client)

    def _open_iterator(self, open_message, arrays, window, iterator_class=RemoteIter,
                       owns_client=False):
        response = self.open_iterator_response(open_message, arrays)
        return iterator_class(self, response, window, owns_client=owns_client,
                              open_message=open_message, arrays=arrays)

    def open_iterator_response(self, open_message, arrays=()):
        """The OpenIterator call itself: sends `open_message` (a service_pb2.OpenIterator) then
        the inline arrays in ~4 MB ArrayChunk messages; returns the OpenIteratorResponse."""
        if self.wants_shared_memory and not open_message.shared_memory:
            with_region = service_pb2.OpenIterator()
            with_region.CopyFrom(open_message)
            with_region.shared_memory = True
            open_message = with_region
        try:
            return self._stub.OpenIterator(self._open_requests(open_message, arrays))
        except grpc.RpcError as rpc_error:
            raise self.error(rpc_error) from None

    @staticmethod
    def _open_requests(open_message, arrays):
        yield service_pb2.OpenIteratorRequest(open=open_message)
        for number, array in enumerate(arrays):
            bytes_view = memoryview(np.ascontiguousarray(array)).cast("B")
            for start in range(0, len(bytes_view), UPLOAD_CHUNK_BYTES):
                piece = bytes(bytes_view[start:start + UPLOAD_CHUNK_BYTES])
                yield service_pb2.OpenIteratorRequest(
                    chunk=service_pb2.ArrayChunk(array=number, data=piece))

    # ----- Calls on open iterators (used by RemoteIter) -----

    def fetch_stream(self, iterator_id, max_batches, shared_memory=False):
        """The raw Fetch call: an iterator of serialized FetchResponse bytes (also a grpc.Call).
        shared_memory: payloads go to the iterator's region (its slots are rewritten by the next
        Fetch, so copy a window's batches out before starting the next one)."""
        return self._fetch_raw(service_pb2.FetchRequest(iterator_id=iterator_id,
                                                        max_batches=max_batches,
                                                        shared_memory=shared_memory))

    def reset_iterator(self, iterator_id, batches_consumed=None):
        """Starts the next epoch; `batches_consumed` = batches of this epoch the user received.
        Returns the iterator's IteratorState at the start of the new epoch."""
        request = service_pb2.ResetRequest(iterator_id=iterator_id)
        if batches_consumed is not None:
            request.batches_consumed = batches_consumed
        return self._call(self._stub.Reset, request).state

    def close_iterator(self, iterator_id, timeout=None):
        """Frees the daemon's iterator; `timeout`: seconds (None: no deadline)."""
        self._call(self._stub.CloseIterator,
                   service_pb2.CloseIteratorRequest(iterator_id=iterator_id), timeout)

    def sample_order(self, iterator_id):
        """The current epoch's sample order of an NDArray iterator (NDArrayIter.idx)."""
        response = self._call(self._stub.GetSampleOrder,
                              service_pb2.GetSampleOrderRequest(iterator_id=iterator_id))
        return np.array(response.order, dtype=np.int64)

    def iterator_stats(self, iterator_id):
        """The counters of one open iterator as an IteratorStats namedtuple."""
        response = self._call(self._stub.GetIteratorStats,
                              service_pb2.GetIteratorStatsRequest(iterator_id=iterator_id))
        return IteratorStats(response.batches_produced, response.records_decoded,
                             response.records_skipped, list(response.skipped_examples))

    # ----- Daemon-wide calls -----

    def list_pipelines(self):
        """The pipelines declared in the daemon's config, as PipelineInfo(name, description, config)."""
        response = self._call(self._stub.ListPipelines, service_pb2.ListPipelinesRequest())
        return [PipelineInfo(p.name, p.description, p.config) for p in response.pipelines]

    def stats(self):
        """The daemon's counters as a ServerStats namedtuple."""
        response = self._call(self._stub.GetServerStats, service_pb2.GetServerStatsRequest())
        return ServerStats(response.open_iterators, response.iterators_opened,
                           response.iterators_expired, response.batches_served,
                           response.bytes_served)

    def close(self):
        """Closes the channel (iterators opened through it stop working). Idempotent. At
        interpreter exit it does nothing: gRPC's threads may be stopped by then, and closing
        would wait for them forever; the process's exit closes the connection."""
        if self._closed or exiting():
            return
        self._closed = True
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def _call(self, method, request, timeout=None):
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as rpc_error:
            raise self.error(rpc_error) from None
