"""Raw decoding of Fetch stream messages and the reusable batch buffers.

The client receives Fetch responses as serialized bytes (no protobuf parse) and recognises a
`chunk` message by its first byte: FetchResponse keeps `bytes chunk = 2` first on the wire, so a
chunk message is the tag 0x12, a varint length and then exactly that many payload bytes. Those
bytes are copied once, straight into the batch's buffer. Other messages (header, end_of_epoch) are
small and parsed with FetchResponse.FromString.

A daemon on the same host can instead put each payload in a slot of a shared-memory region
(SharedMemoryMapping below): the header names the slot and the bytes are copied out of the mapping,
never crossing the socket. The region's read-only descriptor comes from the daemon's hand-over
socket, in exchange for the token that only the opener's OpenIteratorResponse carried.

Not thread-safe: a BufferPool or SharedMemoryMapping belongs to one iterator.
"""
import errno
import mmap
import os
import socket
import stat
import sys

import numpy as np

from iterd.descriptors import little_endian_dtype

# Field 2 (`chunk`), wire type 2 (length-delimited): (2 << 3) | 2.
CHUNK_TAG = 0x12


def chunk_span(message):
    """Returns (start, length) of the chunk bytes in a serialized FetchResponse, or None.

    None means the message is not a plain chunk message (a header or end_of_epoch, or a chunk
    followed by other fields) and must be parsed with protobuf.
    """
    if len(message) < 2 or message[0] != CHUNK_TAG:
        return None
    length = 0
    shift = 0
    position = 1
    while True:
        if position >= len(message) or shift > 63:
            return None
        byte = message[position]
        position += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    if position + length != len(message):
        return None
    return position, length


def split_payload(buffer, header):
    """Views of one batch buffer as (data arrays, label arrays), per the BatchHeader.

    The arrays share `buffer` (no copy); each holds a reference to it, which is what tells the
    pool whether the buffer is still in use.
    """
    offset = 0
    groups = []
    for tensors in (header.data, header.label):
        arrays = []
        for tensor in tensors:
            dtype = little_endian_dtype(tensor.dtype)
            size = int(tensor.byte_size)
            shape = tuple(int(d) for d in tensor.shape)
            if offset + size > buffer.nbytes:
                raise ValueError("tensor of %d bytes at offset %d overruns the %d-byte payload" %
                                 (size, offset, buffer.nbytes))
            count = 1
            for d in shape:
                count *= d
            if count * dtype.itemsize != size:
                raise ValueError("tensor shape %s of %s does not match byte_size %d" %
                                 (shape, dtype, size))
            arrays.append(buffer[offset:offset + size].view(dtype).reshape(shape))
            offset += size
        groups.append(arrays)
    if offset != buffer.nbytes:
        raise ValueError("tensors cover %d bytes of a %d-byte payload" % (offset, buffer.nbytes))
    return groups[0], groups[1]


class BufferPool(object):
    """Recycles batch buffers that nobody outside the pool references any more.

    Fresh large allocations are slow (page faults and zeroing run at ~2 GB/s against ~10 GB/s for
    a memcpy into warm memory), so the buffer of a batch the user has dropped is reused. A buffer
    is reused only when its reference count shows that no array of an earlier batch still points
    into it: batches handed out stay valid for as long as the user keeps them.
    """

    def __init__(self, capacity=3):
        self._capacity = capacity
        self._buffers = []

    def take(self, nbytes):
        """A uint8 buffer of exactly nbytes: a free pooled one, or a new one."""
        for position in range(len(self._buffers)):
            candidate = self._buffers[position]
            # References: the pool's list, `candidate` and getrefcount's argument. Anything more
            # is an array (or memoryview) of a batch still alive somewhere.
            if candidate.nbytes == nbytes and sys.getrefcount(candidate) <= 3:
                del self._buffers[position]
                return candidate
        return np.empty(nbytes, dtype=np.uint8)

    def give(self, buffer):
        """Offers buffer for reuse once its batch is dropped; keeps the newest `capacity`."""
        self._buffers.append(buffer)
        if len(self._buffers) > self._capacity:
            del self._buffers[0]

    def clear(self):
        self._buffers = []


REGION_TOKEN_BYTES = 16
# The daemon answers a hand-over at once (it gives a connection 1 s to send its token).
HANDOVER_TIMEOUT_SECONDS = 2.0
# Descriptors accepted in the answer: one is expected, extra ones are closed, not leaked.
_MAX_HANDED_FDS = 4


def _receive_region_fd(socket_name, token):
    """The read-only descriptor of a region, from the daemon's abstract hand-over socket
    `socket_name` ("@name") in exchange for its `token` (service.proto, SharedMemoryRegion).
    Raises OSError (socket.timeout included) when there is none to be had. A separate function
    so that tests can make it fail."""
    if len(socket_name) < 2 or not socket_name.startswith("@"):
        raise OSError(errno.EINVAL, "not an abstract socket name", socket_name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(HANDOVER_TIMEOUT_SECONDS)
        connection.connect("\0" + socket_name[1:])
        connection.sendall(token)
        message, fds, flags, _ = socket.recv_fds(connection, 1, _MAX_HANDED_FDS,
                                                 socket.MSG_CMSG_CLOEXEC)
    if len(message) == 1 and len(fds) == 1 and not flags & socket.MSG_CTRUNC:
        return fds[0]
    for fd in fds:
        os.close(fd)
    raise OSError(errno.EACCES, "the daemon handed over no region (wrong or used token?)",
                  socket_name)


class SharedMemoryMapping(object):
    """A read-only mapping of an iterator's shared-memory region (service.proto,
    SharedMemoryRegion), from which batches announced with a shared_memory_slot are copied."""

    def __init__(self, mapped, region):
        self._mmap = mapped
        self._bytes = np.frombuffer(mapped, dtype=np.uint8)
        self._data_offset = int(region.data_offset)
        self._slot_bytes = int(region.slot_bytes)
        self._slots = int(region.slots)

    @classmethod
    def map(cls, region):
        """The mapping of `region` (a service_pb2.SharedMemoryRegion), or None when it is not
        usable from this process: the hand-over socket cannot be reached (another host or network
        namespace), the daemon sends no descriptor (a wrong or already used token), or the file
        is smaller than announced. The caller then keeps the byte stream. A region is handed over
        once: map it once per iterator."""
        data_offset = int(region.data_offset)
        slot_bytes = int(region.slot_bytes)
        slots = int(region.slots)
        if (len(region.token) != REGION_TOKEN_BYTES or slot_bytes <= 0 or slots <= 0 or
                data_offset < 0):
            return None
        size = data_offset + slot_bytes * slots
        try:
            fd = _receive_region_fd(region.handover_socket, bytes(region.token))
        except (OSError, ValueError):
            return None
        try:
            # Mapping past the end of the file would turn reads into SIGBUS.
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size < size:
                return None
            mapped = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)  # The mapping keeps the region alive on its own.
        return cls(mapped, region)

    def copy_slot(self, slot, destination):
        """Copies the first destination.nbytes bytes of `slot` into `destination` (a uint8 array);
        ValueError when the slot does not exist or is smaller."""
        nbytes = destination.nbytes
        if self._bytes is None:
            raise ValueError("the shared memory region is closed")
        if slot >= self._slots or nbytes > self._slot_bytes:
            raise ValueError("batch of %d bytes in slot %d does not fit the region (%d slots of "
                             "%d bytes)" % (nbytes, slot, self._slots, self._slot_bytes))
        start = self._data_offset + slot * self._slot_bytes
        np.copyto(destination, self._bytes[start:start + nbytes])

    def close(self):
        self._bytes = None  # The array exports the mmap's buffer: drop it before closing.
        try:
            self._mmap.close()
        except BufferError:
            pass  # A view is still alive; the mapping goes when it does.
