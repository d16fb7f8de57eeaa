"""The MXNet/dmlc RecordIO byte format, in one place (the Python twin of common/recordio/recordio_format.h).

A .rec file is a run of parts (chunks), each starting 4-byte aligned:

  offset 0   uint32 LE  magic  0xCED7230A (bytes 0a 23 d7 ce)
  offset 4   uint32 LE  lrec   (cflag << 29) | length
  offset 8   length bytes of payload
  then       (4 - length % 4) % 4 zero bytes of padding

cflag: 0 = a whole record; 1 = first part of a split record, 2 = middle, 3 = last. The writer splits a
record wherever its payload holds the magic at a 4-aligned payload offset (and only there: chunks start
aligned, so an unaligned magic can never be taken for a header), dropping those 4 bytes; the reader puts
them back between parts. Private to iterd.recordio.
"""
import struct

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)  # b"\x0a\x23\xd7\xce"
HEADER = struct.Struct("<II")  # magic, lrec
HEADER_BYTES = HEADER.size
ALIGNMENT = 4
# A record (before splitting) must be strictly smaller than 2^29 bytes: the length field has 29 bits.
MAX_RECORD_BYTES = (1 << 29) - 1
LENGTH_MASK = (1 << 29) - 1

CFLAG_FULL = 0
CFLAG_START = 1
CFLAG_MIDDLE = 2
CFLAG_END = 3

_PADDING = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by length % 4


def padding(length):
    """The zero bytes that follow `length` payload bytes so that the next part starts 4-aligned."""
    return _PADDING[length % ALIGNMENT]


def padded_length(length):
    return (length + 3) & ~3


def encode_header(cflag, length):
    return HEADER.pack(MAGIC, (cflag << 29) | length)


def decode_lrec(lrec):
    """Returns (cflag, length) of an lrec word."""
    return lrec >> 29, lrec & LENGTH_MASK


def aligned_magic_offsets(payload):
    """Payload offsets 0, 4, 8, ... (whole words only) where the 4 magic bytes occur, ascending.

    bytes.find does the scanning in C; an unaligned hit just restarts the search one byte later, so
    this stays linear for any payload that is not built to defeat it.
    """
    offsets = []
    position = payload.find(MAGIC_BYTES)
    while position >= 0:
        if position % ALIGNMENT == 0:
            offsets.append(position)
            position = payload.find(MAGIC_BYTES, position + ALIGNMENT)
        else:
            position = payload.find(MAGIC_BYTES, position + 1)
    return offsets


def encode_parts(payload):
    """Yields the byte strings that make up `payload` on disk, exactly as dmlc's RecordIOWriter.

    The payload must already be checked against MAX_RECORD_BYTES. Parts are yielded as
    (header, data view, padding) pieces so that a large payload is never copied.
    """
    view = memoryview(payload)
    start = 0
    cuts = aligned_magic_offsets(payload)
    for cut in cuts:
        # cut - start is a multiple of 4 (both aligned), so these parts need no padding.
        yield encode_header(CFLAG_START if start == 0 else CFLAG_MIDDLE, cut - start)
        yield view[start:cut]
        start = cut + ALIGNMENT
    length = len(payload) - start
    yield encode_header(CFLAG_END if cuts else CFLAG_FULL, length)
    yield view[start:]
    yield padding(length)
