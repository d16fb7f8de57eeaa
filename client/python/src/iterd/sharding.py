"""Daemon addresses, part sizes and failure classification for the many-daemon iterator.

The plan every trainer computes alike, without talking to the others (see sharded_iter.py for the
design): which daemons there are and in which order, how many samples and batches each part holds,
and which errors mean that a daemon, not the data, failed.
"""
import ipaddress
import os
import socket

import grpc

from iterd import errors
from iterd.client import ADDRESS_ENVIRONMENT_VARIABLE

BALANCE_MODES = ("pad", "discard")
FAILURE_MODES = ("fail", "reassign")
# Codes that mean the daemon (or its copy of the iterator) is gone, not that the data is bad.
_DAEMON_FAILURE_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                         grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.NOT_FOUND,
                         grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)


class DaemonFailure(errors.Unavailable):
    """A daemon failed while serving a part.

    Attributes: address (the daemon's "host:port"), part_index, num_parts, rank, epoch.
    """

    def __init__(self, message, address, part_index, num_parts, rank, epoch):
        super(DaemonFailure, self).__init__(message)
        self.address = address
        self.part_index = part_index
        self.num_parts = num_parts
        self.rank = rank
        self.epoch = epoch


def wants_sharding(server, rank=None, world_size=None):
    """True when the arguments ask for the many-daemon iterator: several addresses, or a rank /
    world_size. A single "host:port" without them keeps the one-daemon RemoteIter."""
    if rank is not None or world_size is not None:
        return True
    if server is None:
        server = os.environ.get(ADDRESS_ENVIRONMENT_VARIABLE, "")
    if isinstance(server, (list, tuple)):
        return True
    return isinstance(server, str) and "," in server


def _split_host_port(entry):
    entry = entry.strip()
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = entry.rpartition(":")
    if not host or not port.isdigit():
        raise errors.InvalidArgument("server address %r must be HOST:PORT" % (entry,))
    return host, int(port)


def _address_key(address):
    host, port = _split_host_port(address)
    ip = ipaddress.ip_address(host)
    return (ip.version, int(ip), port)


def resolve_daemons(server, host_names=None):
    """The daemon addresses of `server`, sorted: "host:port", "a:1,b:2", a list of those, or
    None ($ITERD_ADDRESS). Host names expand to every A/AAAA record. InvalidArgument when empty
    or malformed, Unavailable when a name does not resolve.

    host_names: a dict that receives {address: the host name it was resolved from}, for the
    addresses that came from a name (a TLS client checks the daemon's certificate against the
    name, not the pod address it resolved to)."""
    if server is None:
        server = os.environ.get(ADDRESS_ENVIRONMENT_VARIABLE, "")
    entries = [server] if isinstance(server, str) else list(server)
    names = []
    for entry in entries:
        if not isinstance(entry, str):
            raise errors.InvalidArgument("server addresses must be strings, got %r" % (entry,))
        names.extend(part.strip() for part in entry.split(",") if part.strip())
    if not names:
        raise errors.InvalidArgument(
            "no iterd server address: pass server=['HOST:PORT', ...] or a DNS name, or set %s" %
            ADDRESS_ENVIRONMENT_VARIABLE)
    addresses = set()
    for name in names:
        host, port = _split_host_port(name)
        try:
            ipaddress.ip_address(host)
            addresses.add(name if not name.startswith("[") else "[%s]:%d" % (host, port))
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise errors.Unavailable("server %r: host %r does not resolve: %s" %
                                     (name, host, error)) from None
        for family, _, _, _, sockaddr in infos:
            if family == socket.AF_INET6:
                address = "[%s]:%d" % (sockaddr[0], sockaddr[1])
            elif family == socket.AF_INET:
                address = "%s:%d" % (sockaddr[0], sockaddr[1])
            else:
                continue
            addresses.add(address)
            if host_names is not None:
                host_names.setdefault(address, host)
    return sorted(addresses, key=_address_key)


def is_daemon_failure(error):
    return isinstance(error, errors.IterdError) and error.code in _DAEMON_FAILURE_CODES


def ceil_split_sizes(total, num_parts):
    """Samples of each part under the ceil split (ImageRecordIter with .idx, NDArrayIter)."""
    per_part = -(-total // num_parts)
    return [max(0, min(per_part, total - k * per_part)) for k in range(num_parts)]


def batches_of(samples, batch_size, discard_short):
    """Batches a part of `samples` gives: the short last one counts unless discarded."""
    return samples // batch_size if discard_short else -(-samples // batch_size)
