"""MXNet-compatible RecordIO in pure Python: the `mx.recordio` API without MXNet.

    from iterd import recordio
    writer = recordio.MXIndexedRecordIO("data.idx", "data.rec", "w")
    writer.write_idx(0, recordio.pack(recordio.IRHeader(0, 1.0, 0, 0), b"payload"))
    writer.close()
    reader = recordio.MXIndexedRecordIO("data.idx", "data.rec", "r")
    header, payload = recordio.unpack(reader.read_idx(0))

Files are byte for byte those of MXNet/dmlc-core (magic escaping at 4-aligned payload offsets only,
continuation parts with cflag 1/2/3, zero padding to 4 bytes, records < 2^29 bytes), so .rec/.idx files
made by MXNet's im2rec read here and files written here read in MXNet.

Differences from MXNet, all on paths where MXNet fails or misbehaves:
* A damaged file raises RecordIOError (an OSError) naming the file and the byte offset of the damaged
  record; MXNet raises MXNetError. The reader never returns a partial or merged record: it also checks
  the cflag sequence of split records, which MXNet does not.
* MXNet's reader stays "ended" once it has hit the end of the file, so `read()` -> None followed by
  `read_idx(k)` returns None there; here `seek` always moves the reader and `read_idx(k)` works.
* `write`, `write_idx` and `pack` also accept `str` (encoded as UTF-8, as the Python 2 era tutorial's
  snippets pass) and any bytes-like object; MXNet under Python 3 needs `bytes`.
* `tell()` also works on a reader (the offset of the next record); pickling does not close the original
  object; the classes are context managers.

OpenCV's Python binding (cv2) is needed only by pack_img/unpack_img and is imported when first used.
"""
import collections
import numbers
import os
import struct

import numpy as np

from iterd import _recordio_format as fmt

__all__ = [
    "IRHeader", "MXIndexedRecordIO", "MXRecordIO", "RecordIOError", "pack", "pack_img", "unpack",
    "unpack_img",
]


class RecordIOError(OSError):
    """A .rec or .idx file is damaged: bad magic, bad cflag sequence, truncated record, bad index line.

    Attributes:
      path: the file.
      offset: byte offset in the .rec where the damage was found (the part header or payload that is
        wrong or cut); None for an .idx, whose line number is in the message.
      record_offset: offset of the record holding that part (equal to offset unless the record was
        split into parts); None for an .idx.
    """

    def __init__(self, path, offset, reason, record_offset=None):
        if offset is None:
            message = "%s: %s" % (path, reason)
        else:
            message = "%s: offset %d: %s" % (path, offset, reason)
            if record_offset is not None and record_offset != offset:
                message += " (in the record starting at offset %d)" % record_offset
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.record_offset = offset if record_offset is None else record_offset


def _as_bytes(buf, what, max_bytes=None):
    """bytes of a bytes-like or str argument (str as UTF-8: the tutorial passes str).

    A buffer larger than max_bytes is refused (ValueError) before it is copied.
    """
    if isinstance(buf, str):
        buf = buf.encode("utf-8")
    if not isinstance(buf, bytes):
        try:
            buf = memoryview(buf)
        except TypeError:
            raise TypeError("%s must be bytes, a bytes-like object or str, not %s" %
                            (what, type(buf).__name__)) from None
    size = buf.nbytes if isinstance(buf, memoryview) else len(buf)
    if max_bytes is not None and size > max_bytes:
        raise ValueError("%s of %d bytes is too large for RecordIO (must be < 2^29 = %d bytes)" %
                         (what, size, max_bytes + 1))
    return buf if isinstance(buf, bytes) else buf.tobytes()


class MXRecordIO(object):
    """Reads or writes a RecordIO file sequentially (mx.recordio.MXRecordIO).

    Args:
      uri: path of the .rec file.
      flag: 'w' creates or truncates the file for writing; 'r' opens it for reading.

    Attributes: uri, flag, is_open, writable (as in MXNet), pid (the process that opened the file).

    Not thread-safe. An object belongs to the process that opened it: `read`/`write` from another
    process (after fork) raise RuntimeError, as in MXNet; pickle it instead (the file is re-opened
    by the unpickled copy, at its start).
    """

    def __init__(self, uri, flag):
        self.uri = os.fspath(uri)
        self.flag = flag
        self.pid = None
        self.is_open = False
        self.writable = flag == "w"
        self._file = None
        self._position = 0  # offset of the next record to read, or the end of what was written
        self.open()

    def open(self):
        """Opens the file (truncating it in 'w' mode). Called by the constructor and by reset()."""
        if self.flag == "w":
            self._file = open(self.uri, "wb")
            self.writable = True
        elif self.flag == "r":
            self._file = open(self.uri, "rb")
            self.writable = False
        else:
            raise ValueError("Invalid flag %s" % self.flag)
        self._position = 0
        self.pid = os.getpid()
        self.is_open = True

    def __del__(self):
        if getattr(self, "is_open", False):
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __getstate__(self):
        """Pickles everything but the open file; the unpickled copy re-opens it (same mode).

        As in MXNet, a copy of a writer re-opens with 'w' and so truncates the file; the original is
        left open (MXNet closes it).
        """
        state = dict(self.__dict__)
        if self.is_open and self.writable:
            self._file.flush()
        state["_file"] = None
        return state

    def __setstate__(self, state):
        self.__dict__ = state
        was_open = state["is_open"]
        self.is_open = False
        self._file = None
        if was_open:
            self.open()

    def _check_pid(self, allow_reset=False):
        """Refuses (or, when allowed, re-opens for) an object used in a process that did not open it."""
        if self.pid != os.getpid():
            if allow_reset:
                self.reset()
            else:
                raise RuntimeError("Forbidden operation in multiple processes")

    def _check_open(self, operation):
        if not self.is_open:
            raise ValueError("%s on a closed record file %s" % (operation, self.uri))

    def close(self):
        """Closes the file; does nothing if it is already closed."""
        if not self.is_open:
            return
        self._file.close()
        self._file = None
        self.is_open = False
        self.pid = None

    def reset(self):
        """Closes and re-opens the file: a reader starts over, a writer TRUNCATES the file."""
        self.close()
        self.open()

    def tell(self):
        """Writer: the offset where the next record will start (0 before the first write).

        Reader (an iterd extension): the offset of the next record read() will return.
        """
        self._check_open("tell")
        return self._position

    def write(self, buf):
        """Appends one record. ValueError if it has 2^29 bytes or more."""
        if not self.writable:
            raise AssertionError("write on %s, which was opened with flag %r" % (self.uri, self.flag))
        self._check_open("write")
        self._check_pid(allow_reset=False)
        payload = _as_bytes(buf, "record", max_bytes=fmt.MAX_RECORD_BYTES)
        written = 0
        for piece in fmt.encode_parts(payload):
            self._file.write(piece)
            written += len(piece)
        self._position += written

    def read(self):
        """Returns the next record as bytes, or None at the end of the file.

        Raises RecordIOError (naming the file and offset) at a damaged record; the reader then stays
        on that record, so reading again raises again. Records before it were returned intact.
        """
        if self.writable:
            raise AssertionError("read on %s, which was opened with flag %r" % (self.uri, self.flag))
        self._check_open("read")
        self._check_pid(allow_reset=False)
        try:
            return self._read_record()
        except RecordIOError:
            self._file.seek(self._position)  # Stay on the damaged record: never resume mid-record.
            raise

    def _seek_offset(self, offset):
        """Moves the reader to a byte offset (an .idx value). An offset at or past the end reads None."""
        if offset < 0:
            raise RecordIOError(self.uri, offset, "negative record offset")
        self._file.seek(offset)
        self._position = offset

    def _read_record(self):
        """Reads the record at self._position: one 8-byte header read and one payload read per part."""
        read = self._file.read
        record_start = self._position
        part_offset = record_start
        parts = []

        def damaged(reason):
            return RecordIOError(self.uri, part_offset, reason, record_start)

        while True:
            header = read(fmt.HEADER_BYTES)
            if len(header) < fmt.HEADER_BYTES:
                if not header and not parts:
                    return None  # A clean end: exactly at a record boundary.
                if not header:
                    raise damaged("the file ends inside a split record: %d parts read, the last part "
                                  "(cflag 3) is missing" % len(parts))
                raise damaged("truncated part header: %d of %d bytes before the end of the file" %
                              (len(header), fmt.HEADER_BYTES))
            magic, lrec = fmt.HEADER.unpack(header)
            if magic != fmt.MAGIC:
                raise damaged("bad magic 0x%08x (expected 0x%08x): not the start of a record" %
                              (magic, fmt.MAGIC))
            cflag, length = fmt.decode_lrec(lrec)
            if cflag > fmt.CFLAG_END:
                raise damaged("invalid cflag %d in the part header" % cflag)
            if parts and cflag in (fmt.CFLAG_FULL, fmt.CFLAG_START):
                raise damaged("part with cflag %d where a continuation part (cflag 2 or 3) was expected" %
                              cflag)
            if not parts and cflag in (fmt.CFLAG_MIDDLE, fmt.CFLAG_END):
                raise damaged("continuation part (cflag %d) without a first part" % cflag)
            data = read(length)
            padding = fmt.padded_length(length) - length
            if len(data) < length or (padding and len(read(padding)) < padding):
                raise damaged("truncated record: the part declares %d payload bytes (+%d padding) but "
                              "the file ends %d bytes into them" % (length, padding, len(data)))
            part_offset += fmt.HEADER_BYTES + length + padding
            if cflag == fmt.CFLAG_FULL:
                self._position = part_offset
                return data
            parts.append(data)
            if cflag == fmt.CFLAG_END:
                self._position = part_offset
                return fmt.MAGIC_BYTES.join(parts)


class MXIndexedRecordIO(MXRecordIO):
    """A RecordIO file with an .idx ("key<TAB>offset" per line) for random access (MXIndexedRecordIO).

    Args:
      idx_path: path of the .idx file.
      uri: path of the .rec file.
      flag: 'w' or 'r', for both files.
      key_type: converts keys read from (and given to write_idx) the index; int by default.

    Attributes: idx (dict key -> offset; a repeated key keeps its last offset), keys (list of keys
    in file order, duplicates kept), key_type, idx_path, and those of MXRecordIO.
    """

    def __init__(self, idx_path, uri, flag, key_type=int):
        self.idx_path = os.fspath(idx_path)
        self.idx = {}
        self.keys = []
        self.key_type = key_type
        self.fidx = None
        super().__init__(uri, flag)

    def open(self):
        super().open()
        self.idx = {}
        self.keys = []
        try:
            if self.writable:
                self.fidx = open(self.idx_path, "w", newline="\n")
            else:
                self.fidx = open(self.idx_path, "r")
                self._load_index()
        except BaseException:
            super().close()
            raise

    def _load_index(self):
        for line_number, line in enumerate(self.fidx, start=1):
            fields = line.strip().split("\t")
            if fields == [""]:
                continue  # MXNet fails on blank lines; skipping them loses nothing.
            if len(fields) < 2:
                raise RecordIOError(self.idx_path, None,
                                    "line %d: expected 'key<TAB>offset', got %r" % (line_number, line))
            try:
                key = self.key_type(fields[0])
                offset = int(fields[1])
            except ValueError as error:
                raise RecordIOError(self.idx_path, None,
                                    "line %d: bad key or offset in %r (%s)" % (line_number, line, error))
            if offset < 0:
                raise RecordIOError(self.idx_path, None,
                                    "line %d: negative offset %d" % (line_number, offset))
            self.idx[key] = offset
            self.keys.append(key)

    def close(self):
        if not self.is_open:
            return
        super().close()
        self.fidx.close()
        self.fidx = None

    def __getstate__(self):
        if self.is_open and self.writable:
            self.fidx.flush()
        state = super().__getstate__()
        state["fidx"] = None
        return state

    def seek(self, idx):
        """Moves the reader to the record of key `idx` (KeyError if the index has no such key).

        In a process that did not open the file, re-opens it first (as MXNet does). Unlike MXNet,
        seeking after read() returned None works.
        """
        if self.writable:
            raise AssertionError("seek on %s, which was opened with flag 'w'" % self.uri)
        self._check_open("seek")
        self._check_pid(allow_reset=True)
        self._seek_offset(self.idx[idx])

    def read_idx(self, idx):
        """The record of key `idx`: seek(idx) then read(). None if its offset lies past the end."""
        self.seek(idx)
        return self.read()

    def write_idx(self, idx, buf):
        """Appends a record and its index line `key<TAB>offset`; key = key_type(idx)."""
        key = self.key_type(idx)
        position = self.tell()
        self.write(buf)
        self.fidx.write("%s\t%d\n" % (str(key), position))
        self.idx[key] = position
        self.keys.append(key)


IRHeader = collections.namedtuple("HEADER", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """Image record header: flag (number of float32 labels after the header, 0 for a
scalar label), label (float, or a float32 array when flag > 0), id and id2 (uint64).

Packed as struct '<IfQQ' (24 bytes)."""

_IR_FORMAT = struct.Struct("<IfQQ")
_IR_SIZE = _IR_FORMAT.size  # 24


def pack(header, s):
    """Packs a header (any 4-sequence flag, label, id, id2) and a payload into one record's bytes.

    A numeric label is stored in the label field with flag forced to 0; any other label (list, array,
    even of one element) becomes float32 values after the header, with flag = their count and the
    label field 0. The caller's flag is always overwritten, as in MXNet.
    """
    header = IRHeader(*header)
    s = _as_bytes(s, "payload")
    if isinstance(header.label, numbers.Number):
        header = header._replace(flag=0)
    else:
        label = np.asarray(header.label, dtype=np.float32)
        header = header._replace(flag=label.size, label=0)
        s = label.tobytes() + s
    return _IR_FORMAT.pack(*header) + s


def unpack(s):
    """Splits a record into (IRHeader, payload bytes).

    With flag > 0 the header's label is a read-only float32 numpy array of flag values (a view of s).
    Raises struct.error for fewer than 24 bytes and ValueError when the labels run past the record.
    """
    if len(s) < _IR_SIZE:
        raise struct.error("record of %d bytes is too short for an IRHeader (%d bytes)" %
                           (len(s), _IR_SIZE))
    header = IRHeader(*_IR_FORMAT.unpack_from(s))
    s = s[_IR_SIZE:]
    if header.flag > 0:
        if header.flag * 4 > len(s):
            raise ValueError("IRHeader flag %d needs %d label bytes, the record has %d after the header" %
                             (header.flag, header.flag * 4, len(s)))
        header = header._replace(label=np.frombuffer(s, np.float32, header.flag))
        s = s[header.flag * 4:]
    return header, s


def _cv2():
    try:
        import cv2  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ImportError("iterd.recordio.pack_img/unpack_img need OpenCV's Python binding (cv2): "
                          "install python3-opencv or opencv-python") from error
    return cv2


def pack_img(header, img, quality=95, img_fmt=".jpg"):
    """Encodes an image (numpy uint8, OpenCV order BGR/BGRA/gray) with OpenCV and packs it.

    '.jpg'/'.jpeg': quality is the JPEG quality; '.png': quality is passed as the PNG compression
    level (OpenCV clamps it to 0..9, so the default 95 means 9), as MXNet does; other formats use
    OpenCV's defaults. AssertionError if OpenCV cannot encode the image.
    """
    cv2 = _cv2()
    encode_params = None
    if img_fmt.upper() in (".JPG", ".JPEG"):
        encode_params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif img_fmt.upper() == ".PNG":
        encode_params = [cv2.IMWRITE_PNG_COMPRESSION, quality]
    ret, buf = cv2.imencode(img_fmt, img, encode_params)
    if not ret:
        raise AssertionError("failed to encode image as %s" % img_fmt)
    return pack(header, buf.tobytes())


def unpack_img(s, iscolor=-1):
    """Unpacks a record and decodes its image with cv2.imdecode(payload, iscolor).

    iscolor: -1 unchanged (keeps gray/alpha), 0 gray (H, W), 1 colour (H, W, 3). The image is a numpy
    uint8 array in BGR order, or None when the payload is not a decodable image.
    """
    header, payload = unpack(s)
    cv2 = _cv2()
    buf = np.frombuffer(payload, dtype=np.uint8)
    if buf.size == 0:
        return header, None  # cv2.imdecode raises on an empty buffer instead of returning None.
    return header, cv2.imdecode(buf, iscolor)
