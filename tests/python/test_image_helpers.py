"""iterd.image (MXNet's mx.image helpers on NumPy) against OpenCV and the reference's examples.

Real JPEGs are the 20 photos of the MXNet reference file f_images.rec; PNGs and files are made
from them with cv2.imencode in a temporary directory. No daemon is needed.
"""
import math
import random

import cv2
import numpy as np
import pytest

import iterd
from iterd import image
from image_data import reference_records

SEEDS = range(300)


@pytest.fixture(scope="module")
def jpegs():
    return [jpeg for _, jpeg in reference_records()]


@pytest.fixture(scope="module")
def photo(jpegs):
    """One real photo as RGB uint8 HWC."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def opencv_rgb(encoded):
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def png_bytes(array):
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    return encoded.tobytes()


def assert_within_one(actual, expected):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    assert np.abs(actual.astype(np.int32) - expected.astype(np.int32)).max() <= 1


# imdecode / imread --------------------------------------------------------------------------

def test_imdecode_of_real_jpegs_equals_opencv_rgb_exactly(jpegs):
    assert len(jpegs) == 20
    for jpeg in jpegs:
        decoded = image.imdecode(jpeg)
        assert decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3
        np.testing.assert_array_equal(decoded, opencv_rgb(jpeg))


def test_imdecode_of_png_returns_the_encoded_pixels_in_rgb(photo):
    bgr = np.ascontiguousarray(photo[:, :, ::-1])
    np.testing.assert_array_equal(image.imdecode(png_bytes(bgr)), photo)


def test_imdecode_accepts_bytes_bytearray_memoryview_and_uint8_array(jpegs):
    expected = opencv_rgb(jpegs[1])
    for buf in (jpegs[1], bytearray(jpegs[1]), memoryview(jpegs[1]),
                np.frombuffer(jpegs[1], np.uint8)):
        np.testing.assert_array_equal(image.imdecode(buf), expected)


def test_imdecode_to_rgb_0_gives_opencv_bgr(jpegs):
    expected = cv2.imdecode(np.frombuffer(jpegs[2], np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(image.imdecode(jpegs[2], to_rgb=0), expected)


def test_imdecode_flag_0_gives_gray_with_a_channel_axis(jpegs):
    expected = cv2.imdecode(np.frombuffer(jpegs[3], np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded = image.imdecode(jpegs[3], flag=0)
    assert decoded.shape == expected.shape + (1,)
    np.testing.assert_array_equal(decoded[:, :, 0], expected)


def test_imdecode_writes_into_out_and_returns_it(jpegs):
    expected = opencv_rgb(jpegs[4])
    out = np.zeros(expected.shape, np.uint8)
    assert image.imdecode(jpegs[4], out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_imdecode_out_of_wrong_shape_is_invalid_argument(jpegs):
    with pytest.raises(iterd.InvalidArgument, match="out must be a uint8 array of shape"):
        image.imdecode(jpegs[4], out=np.zeros((2, 2, 3), np.uint8))


def test_imdecode_of_str_is_value_error():
    with pytest.raises(ValueError, match="not str"):
        image.imdecode("not bytes")


def test_imdecode_of_empty_bytes_says_empty():
    with pytest.raises(iterd.InvalidArgument, match="buf is empty"):
        image.imdecode(b"")


def test_imdecode_of_non_image_bytes_names_the_bytes():
    with pytest.raises(iterd.InvalidArgument,
                       match=r"not a decodable image \(11 bytes, starts with 68 65"):
        image.imdecode(b"hello world")


def test_imdecode_of_truncated_jpeg_header_is_invalid_argument(jpegs):
    with pytest.raises(iterd.InvalidArgument, match="not a decodable image"):
        image.imdecode(jpegs[0][:10])


def test_imdecode_of_wrong_dtype_or_ndim_names_it(jpegs):
    with pytest.raises(iterd.InvalidArgument, match="dtype int16"):
        image.imdecode(np.zeros(10, np.int16))
    with pytest.raises(iterd.InvalidArgument, match=r"1-D array of bytes, got shape \(2, 5\)"):
        image.imdecode(np.zeros((2, 5), np.uint8))
    with pytest.raises(iterd.InvalidArgument, match="got list"):
        image.imdecode([1, 2, 3])


def test_imdecode_of_bad_flag_names_flag(jpegs):
    with pytest.raises(iterd.InvalidArgument, match="flag must be 1"):
        image.imdecode(jpegs[0], flag=2)


def test_imread_of_jpeg_and_png_files_equals_imdecode(tmp_path, jpegs, photo):
    jpeg_path = tmp_path / "photo.jpg"
    jpeg_path.write_bytes(jpegs[5])
    np.testing.assert_array_equal(image.imread(str(jpeg_path)), opencv_rgb(jpegs[5]))
    png_path = tmp_path / "photo.png"
    assert cv2.imwrite(str(png_path), np.ascontiguousarray(photo[:, :, ::-1]))
    np.testing.assert_array_equal(image.imread(png_path), photo)  # os.PathLike too.
    assert image.imread(str(png_path), flag=0).shape == photo.shape[:2] + (1,)


def test_imread_of_missing_file_is_file_not_found_naming_it(tmp_path):
    missing = str(tmp_path / "missing.jpg")
    with pytest.raises(FileNotFoundError) as raised:
        image.imread(missing)
    assert raised.value.filename == missing
    assert "missing.jpg" in str(raised.value)


def test_imread_of_a_directory_is_an_os_error_naming_it(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        image.imread(str(tmp_path))


def test_imread_of_non_image_file_names_the_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"just some text, not pixels")
    with pytest.raises(iterd.InvalidArgument, match=r"notes\.jpg.*not a decodable image"):
        image.imread(str(path))


def test_imread_of_empty_file_names_the_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(iterd.InvalidArgument, match=r"empty\.png.*empty"):
        image.imread(str(path))


# imresize / resize_short ------------------------------------------------------------------

@pytest.mark.parametrize("interp", [0, 1, 2, 3, 4])
def test_imresize_equals_opencv_for_each_interp_code(photo, interp):
    for w, h in ((100, 70), (640, 480), (37, 211)):
        resized = image.imresize(photo, w, h, interp=interp)
        assert resized.shape == (h, w, 3)
        assert_within_one(resized, cv2.resize(photo, (w, h), interpolation=interp))


def test_imresize_default_interp_is_bilinear(photo):
    assert_within_one(image.imresize(photo, 90, 60),
                      cv2.resize(photo, (90, 60), interpolation=cv2.INTER_LINEAR))


def test_imresize_auto_picks_cubic_up_area_down_linear_mixed(photo):
    h, w = photo.shape[:2]
    for (new_w, new_h), flag in (((w * 2, h * 2), cv2.INTER_CUBIC),
                                 ((w // 3, h // 3), cv2.INTER_AREA),
                                 ((w * 2, h // 2), cv2.INTER_LINEAR)):
        np.testing.assert_array_equal(image.imresize(photo, new_w, new_h, interp=9),
                                      cv2.resize(photo, (new_w, new_h), interpolation=flag))


def test_imresize_random_interp_draws_python_randint_0_to_4(photo):
    for seed in range(10):
        random.seed(seed)
        resized = image.imresize(photo, 50, 40, interp=10)
        random.seed(seed)
        flag = random.randint(0, 4)
        np.testing.assert_array_equal(resized, cv2.resize(photo, (50, 40), interpolation=flag))


def test_imresize_keeps_float_dtype_and_single_channel_axis(photo):
    floats = photo.astype(np.float32)
    resized = image.imresize(floats, 30, 20, interp=1)
    assert resized.dtype == np.float32 and resized.shape == (20, 30, 3)
    gray = photo[:, :, :1]
    assert image.imresize(gray, 30, 20).shape == (20, 30, 1)


def test_imresize_of_a_crop_view_equals_resizing_a_copy(photo):
    view = photo[10:110, 20:220]
    np.testing.assert_array_equal(image.imresize(view, 64, 48),
                                  cv2.resize(view.copy(), (64, 48)))


def test_imresize_bad_arguments_name_the_argument(photo):
    with pytest.raises(iterd.InvalidArgument, match="w must be an integer >= 1"):
        image.imresize(photo, 0, 10)
    with pytest.raises(iterd.InvalidArgument, match="h must be an integer >= 1"):
        image.imresize(photo, 10, 2.5)
    with pytest.raises(iterd.InvalidArgument, match="interp must be 0..4"):
        image.imresize(photo, 10, 10, interp=5)
    with pytest.raises(iterd.InvalidArgument, match=r"3 dimensions.*\(4, 4\)"):
        image.imresize(np.zeros((4, 4), np.uint8), 2, 2)
    with pytest.raises(iterd.InvalidArgument, match="NumPy array"):
        image.imresize([[1]], 2, 2)
    with pytest.raises(iterd.InvalidArgument, match="empty"):
        image.imresize(np.zeros((0, 4, 3), np.uint8), 2, 2)
    with pytest.raises(iterd.InvalidArgument, match="OpenCV cannot resize a int8 array"):
        image.imresize(np.zeros((4, 4, 3), np.int8), 2, 2)


def test_resize_short_uses_integer_division_for_the_long_edge(photo):
    tall = np.ascontiguousarray(photo[:300, :200])
    wide = np.ascontiguousarray(photo[:200, :333])
    assert image.resize_short(tall, 100).shape == (100 * 300 // 200, 100, 3)
    assert image.resize_short(wide, 100).shape == (100, 100 * 333 // 200, 3)
    square = np.ascontiguousarray(photo[:150, :150])
    assert image.resize_short(square, 64).shape == (64, 64, 3)
    assert_within_one(image.resize_short(wide, 100),
                      cv2.resize(wide, (166, 100), interpolation=cv2.INTER_CUBIC))


def test_resize_short_of_bad_size_names_size(photo):
    with pytest.raises(iterd.InvalidArgument, match="size must be an integer >= 1"):
        image.resize_short(photo, 0)


# scale_down and crops -----------------------------------------------------------------------

def test_scale_down_reference_examples():
    assert image.scale_down((640, 480), (720, 120)) == (640, 106)
    assert image.scale_down((360, 1000), (480, 500)) == (360, 375)
    assert image.scale_down((300, 400), (0, 0)) == (0, 0)
    assert image.scale_down((640, 480), (224, 224)) == (224, 224)


def test_center_crop_reference_doc_example():
    src = np.zeros((2321, 3482, 1), np.uint8)
    out, rect = image.center_crop(src, (1000, 500))
    assert rect == (1241, 910, 1000, 500)
    assert out.shape == (500, 1000, 1)


def test_center_crop_is_a_copy_of_the_centre_without_resize(photo):
    h, w = photo.shape[:2]
    out, (x0, y0, cw, ch) = image.center_crop(photo, (101, 57))
    assert (x0, y0, cw, ch) == ((w - 101) // 2, (h - 57) // 2, 101, 57)
    assert not np.shares_memory(out, photo)
    np.testing.assert_array_equal(out, photo[y0:y0 + 57, x0:x0 + 101])


def test_center_crop_larger_than_image_scales_down_then_resizes(photo):
    h, w = photo.shape[:2]
    out, rect = image.center_crop(photo, (w * 2, h))
    new_w, new_h = image.scale_down((w, h), (w * 2, h))
    assert rect == (0, int((h - new_h) / 2), new_w, new_h)
    assert out.shape == (h, w * 2, 3)
    crop = photo[rect[1]:rect[1] + new_h, :new_w]
    assert_within_one(out, cv2.resize(crop, (w * 2, h), interpolation=cv2.INTER_CUBIC))


def test_fixed_crop_slices_and_resizes_to_size(photo):
    np.testing.assert_array_equal(image.fixed_crop(photo, 5, 7, 40, 30), photo[7:37, 5:45])
    resized = image.fixed_crop(photo, 5, 7, 40, 30, size=(20, 10), interp=3)
    np.testing.assert_array_equal(resized, cv2.resize(photo[7:37, 5:45], (20, 10),
                                                      interpolation=cv2.INTER_AREA))


def test_fixed_crop_outside_the_image_names_the_rect(photo):
    h, w = photo.shape[:2]
    with pytest.raises(iterd.InvalidArgument, match=r"rect \(x0=%d, y0=0, w=2, h=2\) exceeds"
                       % (w - 1)):
        image.fixed_crop(photo, w - 1, 0, 2, 2)
    with pytest.raises(iterd.InvalidArgument, match="x0 must be an integer >= 0"):
        image.fixed_crop(photo, -1, 0, 2, 2)
    with pytest.raises(iterd.InvalidArgument, match="h must be an integer >= 1"):
        image.fixed_crop(photo, 0, 0, 2, 0)


def test_random_crop_rect_stays_inside_and_output_has_size_over_many_seeds(photo):
    h, w = photo.shape[:2]
    seen_x = set()
    for seed in SEEDS:
        random.seed(seed)
        out, (x0, y0, cw, ch) = image.random_crop(photo, (150, 200))
        assert (cw, ch) == (150, 200)
        assert 0 <= x0 <= w - cw and 0 <= y0 <= h - ch
        assert out.shape == (200, 150, 3)
        np.testing.assert_array_equal(out, photo[y0:y0 + ch, x0:x0 + cw])
        seen_x.add(x0)
    assert len(seen_x) > 50  # The position really is drawn.


def test_random_crop_reaches_both_inclusive_bounds():
    src = np.zeros((10, 12, 3), np.uint8)
    corners = set()
    for seed in SEEDS:
        random.seed(seed)
        corners.add(image.random_crop(src, (10, 8))[1][:2])
    assert {(0, 0), (2, 2)} <= corners


def test_random_crop_draws_like_mxnet(photo):
    h, w = photo.shape[:2]
    random.seed(7)
    _, rect = image.random_crop(photo, (64, 48))
    random.seed(7)
    assert rect == (random.randint(0, w - 64), random.randint(0, h - 48), 64, 48)


def test_random_crop_larger_than_image_resizes_to_size(photo):
    h, w = photo.shape[:2]
    for seed in range(20):
        random.seed(seed)
        out, (x0, y0, cw, ch) = image.random_crop(photo, (w + 50, h // 2))
        assert out.shape == (h // 2, w + 50, 3)
        assert cw <= w and ch <= h and x0 + cw <= w and y0 + ch <= h


def test_random_crop_of_bad_size_names_size(photo):
    with pytest.raises(iterd.InvalidArgument, match=r"size must be \(w, h\)"):
        image.random_crop(photo, (0, 10))
    with pytest.raises(iterd.InvalidArgument, match=r"size must be \(w, h\)"):
        image.center_crop(photo, 100)


def mxnet_random_size_crop_rect(w, h, area, ratio):
    """MXNet 1.x's random_size_crop draw sequence (python/mxnet/image/image.py)."""
    if isinstance(area, (int, float)):
        area = (area, 1.0)
    for _ in range(10):
        target_area = random.uniform(area[0], area[1]) * w * h
        log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
        new_ratio = np.exp(random.uniform(*log_ratio))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if new_w <= w and new_h <= h:
            return (random.randint(0, w - new_w), random.randint(0, h - new_h), new_w, new_h)
    return None


def test_random_size_crop_keeps_area_ratio_and_bounds_over_many_seeds():
    src = np.random.RandomState(0).randint(0, 256, (200, 200, 3)).astype(np.uint8)
    area, ratio = (0.08, 0.5), (3 / 4, 4 / 3)
    for seed in SEEDS:
        random.seed(seed)
        out, (x0, y0, cw, ch) = image.random_size_crop(src, (64, 48), area, ratio)
        assert out.shape == (48, 64, 3)
        assert 0 <= x0 and x0 + cw <= 200 and 0 <= y0 and y0 + ch <= 200
        # Rounding each side moves the area by at most about (w + h) / 2 + 1/4.
        slack = (cw + ch) / 2 + 1
        assert area[0] * 40000 - slack <= cw * ch <= area[1] * 40000 + slack
        assert ratio[0] - 2 / ch <= cw / ch <= ratio[1] + 2 / ch
        assert_within_one(out, cv2.resize(src[y0:y0 + ch, x0:x0 + cw], (64, 48),
                                          interpolation=cv2.INTER_CUBIC))


def test_random_size_crop_draws_like_mxnet(photo):
    h, w = photo.shape[:2]
    for seed in range(50):
        random.seed(seed)
        _, rect = image.random_size_crop(photo, (32, 32), 0.08, (3 / 4, 4 / 3))
        random.seed(seed)
        assert rect == mxnet_random_size_crop_rect(w, h, 0.08, (3 / 4, 4 / 3))


def test_random_size_crop_that_never_fits_falls_back_to_center_crop(photo):
    random.seed(3)
    out, rect = image.random_size_crop(photo, (40, 30), (2.0, 3.0), (1.0, 1.0))
    expected, expected_rect = image.center_crop(photo, (40, 30))
    assert rect == expected_rect
    np.testing.assert_array_equal(out, expected)


def test_random_size_crop_bad_area_or_ratio_names_it(photo):
    with pytest.raises(iterd.InvalidArgument, match="area must be"):
        image.random_size_crop(photo, (10, 10), 0.0, (0.75, 1.33))
    with pytest.raises(iterd.InvalidArgument, match="area must be"):
        image.random_size_crop(photo, (10, 10), (0.5, 0.1), (0.75, 1.33))
    with pytest.raises(iterd.InvalidArgument, match="ratio must be"):
        image.random_size_crop(photo, (10, 10), 0.08, (0.0, 1.0))
    with pytest.raises(iterd.InvalidArgument, match="ratio must be"):
        image.random_size_crop(photo, (10, 10), 0.08, 1.0)


# color_normalize / copyMakeBorder ------------------------------------------------------------

def test_color_normalize_subtracts_mean_divides_std_in_place(photo):
    src = photo.astype(np.float32)
    expected = (photo.astype(np.float64) - [123.68, 116.28, 103.53]) / [58.395, 57.12, 57.375]
    result = image.color_normalize(src, np.array([123.68, 116.28, 103.53]),
                                   [58.395, 57.12, 57.375])
    assert result is src
    np.testing.assert_allclose(src, expected, rtol=1e-5, atol=1e-4)


def test_color_normalize_with_only_mean_or_only_std():
    src = np.full((2, 2, 3), 10.0, np.float32)
    image.color_normalize(src, 4.0)
    np.testing.assert_array_equal(src, np.full((2, 2, 3), 6.0))
    image.color_normalize(src, None, std=[1.0, 2.0, 3.0])
    np.testing.assert_allclose(src[0, 0], [6.0, 3.0, 2.0])


def test_color_normalize_rejects_uint8_and_mismatched_mean(photo):
    with pytest.raises(iterd.InvalidArgument, match="floating-point.*uint8"):
        image.color_normalize(photo, [1.0, 2.0, 3.0])
    with pytest.raises(iterd.InvalidArgument, match=r"mean of shape \(4,\) does not broadcast"):
        image.color_normalize(photo.astype(np.float32), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(iterd.InvalidArgument, match=r"std of shape \(2, 1, 1, 1\)"):
        image.color_normalize(np.ones((2, 2, 3), np.float32), None, np.ones((2, 1, 1, 1)))


@pytest.mark.parametrize("border_type", [0, 1, 2, 3, 4])
def test_copy_make_border_equals_opencv_for_each_type(photo, border_type):
    small = photo[:40, :50]
    padded = image.copyMakeBorder(small, 3, 5, 7, 2, type=border_type, value=9)
    np.testing.assert_array_equal(padded, cv2.copyMakeBorder(
        small, 3, 5, 7, 2, borderType=border_type, value=(9, 9, 9, 9)))
    assert padded.shape == (48, 59, 3)


def test_copy_make_border_constant_uses_per_channel_values(photo):
    padded = image.copyMakeBorder(photo[:4, :4], 1, 1, 1, 1, values=(10, 20, 30))
    np.testing.assert_array_equal(padded[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(padded[1:5, 1:5], photo[:4, :4])


def test_copy_make_border_keeps_single_channel_axis():
    padded = image.copyMakeBorder(np.ones((3, 3, 1), np.float32), 1, 0, 0, 2, value=-1)
    assert padded.shape == (4, 5, 1)
    assert padded[0, 0, 0] == -1 and padded[1, 0, 0] == 1


def test_copy_make_border_bad_type_or_margin_names_it(photo):
    with pytest.raises(iterd.InvalidArgument, match="type must be an OpenCV border code"):
        image.copyMakeBorder(photo, 1, 1, 1, 1, type=7)
    with pytest.raises(iterd.InvalidArgument, match="bot must be an integer >= 0"):
        image.copyMakeBorder(photo, 1, -1, 1, 1)
    with pytest.raises(iterd.InvalidArgument, match="values has 5 entries"):
        image.copyMakeBorder(photo, 1, 1, 1, 1, values=(1, 2, 3, 4, 5))


def test_module_is_importable_both_ways():
    import iterd.image as by_path
    assert by_path is image
    assert math.isclose(image.scale_down((10, 10), (20, 10))[1], 5)
