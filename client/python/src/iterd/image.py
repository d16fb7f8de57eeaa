"""MXNet's mx.image helpers on NumPy arrays: decode, resize, crop, normalise, pad.

Replace `mx.image.` with `iterd.image.`: the functions keep MXNet's names, argument order and
defaults (reference section 11.5), and take and return NumPy arrays instead of NDArrays:

    from iterd import image
    rgb = image.imread("cat.jpg")                      # (H, W, 3) uint8, RGB, HWC
    small = image.imresize(rgb, 100, 70)               # note: w, h -> shape (70, 100, 3)
    patch, (x0, y0, w, h) = image.random_crop(rgb, (150, 200))

Pixels come from OpenCV (cv2), as MXNet's come from its OpenCV build, so results equal cv2's.
Random draws (random_crop, random_size_crop, interp=10) use Python's `random` module and NumPy
exactly where MXNet does, so `random.seed(n)` replays a crop.

Crops return new arrays, as MXNet's do, so that an in-place step afterwards (color_normalize)
never writes into the source image. Bad arguments and
undecodable bytes raise iterd.InvalidArgument (a ValueError) naming the argument; a missing or
unreadable file raises the OSError of open() with the file name.
"""
import os
import random

import numpy as np

try:
    import cv2
except ImportError as error:  # The iterators work without OpenCV; these helpers do not.
    raise ImportError("iterd.image needs OpenCV's Python binding (cv2): install python3-opencv "
                      "(Debian) or opencv-python: %s" % error) from error

from iterd.errors import InvalidArgument

__all__ = [
    "center_crop", "color_normalize", "copyMakeBorder", "fixed_crop", "imdecode", "imread",
    "imresize", "random_crop", "random_size_crop", "resize_short", "scale_down",
]

# OpenCV's imdecode flags behind MXNet's flag argument (1 colour, 0 gray).
_DECODE_FLAGS = {1: cv2.IMREAD_COLOR, 0: cv2.IMREAD_GRAYSCALE}
_BYTES_SHOWN_IN_ERRORS = 8
# MXNet's border types are OpenCV's codes, passed straight to cv::copyMakeBorder.
_BORDER_TYPES = {
    cv2.BORDER_CONSTANT: "constant", cv2.BORDER_REPLICATE: "replicate",
    cv2.BORDER_REFLECT: "reflect", cv2.BORDER_WRAP: "wrap", cv2.BORDER_REFLECT_101: "reflect101",
}
_INTERP_AUTO = 9
_INTERP_RANDOM = 10


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_int(function, name, value, minimum):
    if not _is_int(value) or value < minimum:
        raise InvalidArgument("%s: %s must be an integer >= %d, got %r"
                              % (function, name, minimum, value))
    return int(value)


def _check_image(function, src, name="src"):
    """REQUIRES-style check of an HWC image; returns it unchanged."""
    if not isinstance(src, np.ndarray):
        raise InvalidArgument("%s: %s must be a NumPy array (H, W, C), got %s"
                              % (function, name, type(src).__name__))
    if src.ndim != 3:
        raise InvalidArgument("%s: %s must have 3 dimensions (H, W, C), got shape %s"
                              % (function, name, src.shape))
    if src.size == 0:
        raise InvalidArgument("%s: %s is empty (shape %s)" % (function, name, src.shape))
    return src


def _check_size(function, size, name="size"):
    """A (w, h) pair of positive integers."""
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(_is_int(v) and v > 0 for v in size)):
        raise InvalidArgument("%s: %s must be (w, h) with positive integers, got %r"
                              % (function, name, size))
    return int(size[0]), int(size[1])


def _keep_channel_axis(result, src):
    # cv2 returns (H, W) for a one-channel input; MXNet keeps (H, W, 1).
    return result[:, :, None] if result.ndim == 2 and src.ndim == 3 else result


def _get_interp_method(interp, sizes=()):
    """MXNet's _get_interp_method: the OpenCV code (0..4) for `interp`.

    9 (auto) -> bicubic to enlarge, area to shrink, bilinear otherwise, given sizes
    (old_h, old_w, new_h, new_w); bicubic when sizes are unknown. 10 -> random.randint(0, 4).
    """
    if not _is_int(interp):
        raise InvalidArgument("interp must be an integer 0..4, 9 or 10, got %r" % (interp,))
    if interp == _INTERP_AUTO:
        if not sizes:
            return cv2.INTER_CUBIC
        old_h, old_w, new_h, new_w = sizes
        if new_h > old_h and new_w > old_w:
            return cv2.INTER_CUBIC
        if new_h < old_h and new_w < old_w:
            return cv2.INTER_AREA
        return cv2.INTER_LINEAR
    if interp == _INTERP_RANDOM:
        return random.randint(0, 4)
    if interp not in (0, 1, 2, 3, 4):
        raise InvalidArgument("interp must be 0..4, 9 (auto) or 10 (random), got %d" % interp)
    return int(interp)


def _as_byte_array(buf):
    """`buf` as a 1-D uint8 NumPy array without copying."""
    if isinstance(buf, str):
        raise InvalidArgument("imdecode: buf must be bytes, bytearray, memoryview or a uint8 "
                              "NumPy array, not str (read files in binary mode: open(f, 'rb'))")
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8:
            raise InvalidArgument("imdecode: buf must be a uint8 array, got dtype %s" % buf.dtype)
        if buf.ndim != 1:
            raise InvalidArgument("imdecode: buf must be a 1-D array of bytes, got shape %s"
                                  % (buf.shape,))
        return buf
    if isinstance(buf, (bytes, bytearray, memoryview)):
        try:
            return np.frombuffer(buf, dtype=np.uint8)
        except (ValueError, TypeError) as error:  # A non-contiguous memoryview.
            raise InvalidArgument("imdecode: buf is not a contiguous byte buffer: %s" % error)
    raise InvalidArgument("imdecode: buf must be bytes, bytearray, memoryview or a uint8 NumPy "
                          "array, got %s" % type(buf).__name__)


def _not_decodable(data, reason=""):
    start = " ".join("%02X" % b for b in data[:_BYTES_SHOWN_IN_ERRORS].tolist())
    more = " ..." if data.size > _BYTES_SHOWN_IN_ERRORS else ""
    return InvalidArgument("not a decodable image (%d bytes, starts with %s%s)%s"
                           % (data.size, start, more, ": " + reason if reason else ""))


def imdecode(buf, flag=1, to_rgb=1, out=None):
    """Decodes an encoded image (JPEG, PNG, ...) as cv2.imdecode does.

    Returns uint8 HWC: (H, W, 3) RGB for flag=1 (BGR with to_rgb=0), (H, W, 1) for flag=0.
    With `out` (a uint8 array of that shape) the pixels are written there and `out` is returned.
    Raises InvalidArgument for empty or undecodable bytes, a str, or a bad flag/out.
    """
    data = _as_byte_array(buf)
    if flag not in _DECODE_FLAGS:
        raise InvalidArgument("imdecode: flag must be 1 (colour) or 0 (gray), got %r" % (flag,))
    if data.size == 0:
        raise InvalidArgument("imdecode: buf is empty (0 bytes)")
    try:
        image = cv2.imdecode(data, _DECODE_FLAGS[int(flag)])
    except cv2.error as error:
        raise _not_decodable(data, str(error).strip()) from None
    if image is None or image.size == 0:
        raise _not_decodable(data)
    if image.ndim == 2:
        image = image[:, :, None]
    elif to_rgb:
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # In place: the array is ours.
    if out is None:
        return image
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != image.shape:
        raise InvalidArgument("imdecode: out must be a uint8 array of shape %s, got %s"
                              % (image.shape, _describe(out)))
    np.copyto(out, image)
    return out


def _describe(value):
    if isinstance(value, np.ndarray):
        return "%s array of shape %s" % (value.dtype, value.shape)
    return type(value).__name__


def imread(filename, flag=1, to_rgb=1):
    """imdecode of a file's bytes. A missing or unreadable file raises the OSError of open()
    (FileNotFoundError, IsADirectoryError, ...) naming the file; undecodable content raises
    InvalidArgument naming the file."""
    path = os.fspath(filename)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise type(error)(error.errno, "imread: cannot read image file: %s" % error.strerror,
                          path) from None
    try:
        return imdecode(data, flag, to_rgb)
    except InvalidArgument as error:
        raise InvalidArgument("imread: %r: %s" % (path, error.message)) from None


def imresize(src, w, h, interp=1):
    """Resizes HWC `src` to width `w`, height `h` (note the order): shape (h, w, C), same dtype.
    interp: 0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos, 9 auto, 10 random."""
    _check_image("imresize", src)
    w = _check_int("imresize", "w", w, 1)
    h = _check_int("imresize", "h", h, 1)
    method = _get_interp_method(interp, (src.shape[0], src.shape[1], h, w))
    try:
        resized = cv2.resize(src, (w, h), interpolation=method)
    except cv2.error as error:
        raise InvalidArgument("imresize: OpenCV cannot resize a %s array of shape %s: %s"
                              % (src.dtype, src.shape, str(error).strip())) from None
    return _keep_channel_axis(resized, src)


def scale_down(src_size, size):
    """Shrinks `size` (w, h) to fit in `src_size` (w, h), keeping its aspect ratio:
    ((640, 480), (720, 120)) -> (640, 106)."""
    w, h = size
    sw, sh = src_size
    if sh < h:
        w, h = float(w * sh) / h, sh
    if sw < w:
        w, h = sw, float(h * sw) / w
    return int(w), int(h)


def resize_short(src, size, interp=2):
    """Resizes so the shorter edge is `size`; the longer is size * long // short."""
    _check_image("resize_short", src)
    size = _check_int("resize_short", "size", size, 1)
    h, w = src.shape[:2]
    if h > w:
        new_h, new_w = size * h // w, size
    else:
        new_h, new_w = size, size * w // h
    return imresize(src, new_w, new_h, interp=_get_interp_method(interp, (h, w, new_h, new_w)))


def fixed_crop(src, x0, y0, w, h, size=None, interp=2):
    """A copy of src[y0:y0+h, x0:x0+w], resized to `size` (w, h) when given and different.
    InvalidArgument if the rectangle leaves the image."""
    _check_image("fixed_crop", src)
    x0 = _check_int("fixed_crop", "x0", x0, 0)
    y0 = _check_int("fixed_crop", "y0", y0, 0)
    w = _check_int("fixed_crop", "w", w, 1)
    h = _check_int("fixed_crop", "h", h, 1)
    height, width = src.shape[:2]
    if x0 + w > width or y0 + h > height:
        raise InvalidArgument("fixed_crop: rect (x0=%d, y0=%d, w=%d, h=%d) exceeds the %dx%d "
                              "(w x h) image" % (x0, y0, w, h, width, height))
    out = src[y0:y0 + h, x0:x0 + w]
    if size is not None:
        size = _check_size("fixed_crop", size)
        if (w, h) != size:
            method = _get_interp_method(interp, (h, w, size[1], size[0]))
            return imresize(out, size[0], size[1], interp=method)
    return out.copy()


def random_crop(src, size, interp=2):
    """A random window of scale_down((W, H), size), resized to `size` (w, h) if needed.
    Returns (image, (x0, y0, w, h)); x0, y0 from random.randint (inclusive bounds)."""
    _check_image("random_crop", src)
    size = _check_size("random_crop", size)
    h, w = src.shape[:2]
    new_w, new_h = scale_down((w, h), size)
    if new_w == 0 or new_h == 0:
        raise InvalidArgument("random_crop: size %r scaled down to the %dx%d image is empty"
                              % (size, w, h))
    x0 = random.randint(0, w - new_w)
    y0 = random.randint(0, h - new_h)
    out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
    return out, (x0, y0, new_w, new_h)


def center_crop(src, size, interp=2):
    """The centred window of scale_down((W, H), size) (offsets floor((W - w) / 2)), resized to
    `size` (w, h) if needed. Returns (image, (x0, y0, w, h))."""
    _check_image("center_crop", src)
    size = _check_size("center_crop", size)
    h, w = src.shape[:2]
    new_w, new_h = scale_down((w, h), size)
    if new_w == 0 or new_h == 0:
        raise InvalidArgument("center_crop: size %r scaled down to the %dx%d image is empty"
                              % (size, w, h))
    x0 = int((w - new_w) / 2)
    y0 = int((h - new_h) / 2)
    out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
    return out, (x0, y0, new_w, new_h)


def random_size_crop(src, size, area, ratio, interp=2):
    """Inception-style crop: up to 10 tries of area U(area) * H * W with aspect ratio
    log-uniform in `ratio` (w / h); a try that fits is cropped at a random position and resized
    to `size` (w, h); otherwise center_crop. `area` is a float (-> (area, 1.0)) or a pair.
    Returns (image, (x0, y0, w, h)).

    Unlike MXNet, a try whose width or height rounds to 0 counts as not fitting (MXNet would
    fail resizing an empty crop).
    """
    _check_image("random_size_crop", src)
    size = _check_size("random_size_crop", size)
    if isinstance(area, (int, float, np.integer, np.floating)) and not isinstance(area, bool):
        area = (area, 1.0)
    if (not isinstance(area, (tuple, list)) or len(area) != 2
            or not all(isinstance(a, (int, float, np.integer, np.floating)) for a in area)
            or not 0 < area[0] <= area[1]):
        raise InvalidArgument("random_size_crop: area must be a number in (0, 1] or a pair "
                              "0 < min <= max, got %r" % (area,))
    if (not isinstance(ratio, (tuple, list)) or len(ratio) != 2
            or not all(isinstance(r, (int, float, np.integer, np.floating)) for r in ratio)
            or not 0 < ratio[0] <= ratio[1]):
        raise InvalidArgument("random_size_crop: ratio must be a pair 0 < min <= max, got %r"
                              % (ratio,))
    h, w = src.shape[:2]
    src_area = h * w
    log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
    for _ in range(10):
        target_area = random.uniform(area[0], area[1]) * src_area
        new_ratio = np.exp(random.uniform(*log_ratio))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if 0 < new_w <= w and 0 < new_h <= h:
            x0 = random.randint(0, w - new_w)
            y0 = random.randint(0, h - new_h)
            out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
            return out, (x0, y0, new_w, new_h)
    return center_crop(src, size, interp)


def color_normalize(src, mean, std=None):
    """In place: src -= mean (unless None), then src /= std (if given); returns src.
    `src` must be a floating-point array (cast uint8 images with .astype(np.float32) first)."""
    if not isinstance(src, np.ndarray) or not np.issubdtype(src.dtype, np.floating):
        raise InvalidArgument("color_normalize: src must be a floating-point NumPy array (it is "
                              "normalised in place), got %s" % _describe(src))
    for name, value in (("mean", mean), ("std", std)):
        if value is None:
            continue
        operand = np.asarray(value, dtype=src.dtype)
        # In-place arithmetic needs the operand to broadcast to src's own shape.
        if operand.ndim > src.ndim or any(
                o != 1 and o != s for o, s in zip(operand.shape[::-1], src.shape[::-1])):
            raise InvalidArgument("color_normalize: %s of shape %s does not broadcast to src's "
                                  "shape %s" % (name, operand.shape, src.shape))
        if name == "mean":
            src -= operand
        else:
            src /= operand
    return src


def copyMakeBorder(src, top, bot, left, right, type=0, value=0, values=()):  # noqa: A002
    """Pads HWC `src` as cv2.copyMakeBorder does. `type` is OpenCV's border code: 0 constant,
    1 replicate, 2 reflect, 3 wrap, 4 reflect101. A constant border is `value` in every channel,
    or the per-channel `values` when given."""
    _check_image("copyMakeBorder", src)
    margins = [_check_int("copyMakeBorder", name, v, 0)
               for name, v in (("top", top), ("bot", bot), ("left", left), ("right", right))]
    if not _is_int(type) or type not in _BORDER_TYPES:
        codes = ", ".join("%d %s" % kv for kv in sorted(_BORDER_TYPES.items()))
        raise InvalidArgument("copyMakeBorder: type must be an OpenCV border code (%s), got %r"
                              % (codes, type))
    fill = [float(v) for v in values] if len(values) > 0 else [float(value)] * 4
    if len(fill) > 4:
        raise InvalidArgument("copyMakeBorder: values has %d entries, at most 4" % len(fill))
    fill += [0.0] * (4 - len(fill))
    try:
        padded = cv2.copyMakeBorder(src, *margins, borderType=int(type), value=fill)
    except cv2.error as error:
        raise InvalidArgument("copyMakeBorder: OpenCV cannot pad a %s array of shape %s with "
                              "type %d: %s" % (src.dtype, src.shape, type, str(error).strip())
                              ) from None
    return _keep_channel_axis(padded, src)
