import io

import cv2
import numpy as np
import pytest
from PIL import Image

from smartcam.contracts import InputSpec
from ssd_inference.preprocessing import FrameError, Preprocessor, decode_image, image_size
from tests.ssd_inference.helpers import REPO, jpeg_bytes

IMAGES = REPO / "tests" / "model_packaging" / "images"

SPEC = InputSpec(shape=[1, 300, 300, 3], layout="NHWC", dtype="float32", color="RGB",
                 normalization={"mean": [127.5] * 3, "std": [127.5] * 3})


def test_jpeg_to_normalized_nhwc_tensor_matches_reference():
    bgr = np.zeros((120, 160, 3), np.uint8)
    bgr[:, :, 2] = 255  # pure red in OpenCV's BGR order
    _ok, data = cv2.imencode(".png", bgr)
    rgb = decode_image(data.tobytes(), (160, 120))
    assert rgb.shape == (120, 160, 3) and rgb[0, 0].tolist() == [255, 0, 0]
    tensor = Preprocessor(SPEC)(rgb)
    assert tensor.shape == (1, 300, 300, 3) and tensor.dtype == np.float32 and tensor.flags.c_contiguous
    np.testing.assert_allclose(tensor[0, 150, 150], [1.0, -1.0, -1.0])


def test_resize_and_normalize_equal_a_plain_formula():
    rgb = decode_image(jpeg_bytes(97, 61))
    expected = (cv2.resize(rgb, (300, 300)).astype(np.float32) - 127.5) / 127.5
    np.testing.assert_allclose(Preprocessor(SPEC)(rgb)[0], expected, atol=1e-6)


def test_nchw_bgr_and_uint8_models():
    rgb = decode_image(jpeg_bytes())
    nchw = Preprocessor(InputSpec(shape=[1, 3, 32, 48], layout="NCHW", dtype="float32", color="BGR"))(rgb)
    assert nchw.shape == (1, 3, 32, 48)
    np.testing.assert_allclose(nchw[0, 0], cv2.resize(rgb, (48, 32))[:, :, 2])
    quantized = Preprocessor(InputSpec(shape=[1, 32, 32, 3], layout="NHWC", dtype="uint8"))(rgb)
    assert quantized.dtype == np.uint8 and quantized.shape == (1, 32, 32, 3)


def test_grayscale_and_rgba_become_rgb():
    gray = decode_image(jpeg_bytes(channels=1))
    assert gray.shape == (120, 160, 3) and (gray[:, :, 0] == gray[:, :, 2]).all()
    rgba = decode_image(jpeg_bytes(channels=4, ext=".png"))
    assert rgba.shape == (120, 160, 3)


@pytest.mark.parametrize("data, reason", [
    (b"", "not a JPEG"),
    (b"GIF89a....", "not a JPEG"),
    (jpeg_bytes()[:40], "corrupt"),
    (b"\xff\xd8\xff" + b"\x00" * 100, "corrupt"),
])
def test_bad_bytes_are_clear_errors(data, reason):
    with pytest.raises(FrameError, match=reason):
        decode_image(data)


def test_size_other_than_announced_is_refused():
    with pytest.raises(FrameError, match="160x120 but its message says 640x480"):
        decode_image(jpeg_bytes(160, 120), (640, 480))


def test_tiny_and_16_bit_images_are_refused():
    with pytest.raises(FrameError, match="too small"):
        decode_image(jpeg_bytes(4, 4))
    _ok, data = cv2.imencode(".png", np.zeros((20, 20, 3), np.uint16))
    with pytest.raises(FrameError, match="uint16"):
        decode_image(data.tobytes())


def test_gray_with_alpha_png_becomes_rgb():
    buffer = io.BytesIO()
    Image.new("LA", (30, 20), (200, 128)).save(buffer, format="PNG")
    rgb = decode_image(buffer.getvalue(), (30, 20))
    assert rgb.shape == (20, 30, 3) and rgb[0, 0].tolist() == [200, 200, 200]


def test_header_size_of_jpeg_and_png_without_decoding():
    assert image_size(jpeg_bytes(161, 97)) == (161, 97)
    assert image_size(jpeg_bytes(33, 20, ext=".png")) == (33, 20)
    assert image_size(b"\xff\xd8\xff\xe0\x00\x10JFIF") is None


def test_large_jpeg_is_decoded_at_reduced_scale_but_not_below_the_model_input():
    photo = cv2.resize(cv2.imread(str(IMAGES / "grace_hopper.jpg")), (1280, 720))
    data = cv2.imencode(".jpg", photo)[1].tobytes()
    reduced = decode_image(data, (1280, 720), (300, 300))
    assert reduced.shape == (360, 640, 3)
    full = decode_image(data, (1280, 720))
    assert full.shape == (720, 1280, 3)
    same_view = cv2.resize(full, (640, 360), interpolation=cv2.INTER_AREA)
    assert np.abs(same_view.astype(int) - reduced.astype(int)).mean() < 4
    assert decode_image(jpeg_bytes(640, 480), None, (300, 300)).shape == (480, 640, 3)


def test_per_channel_normalization_matches_the_formula():
    spec = InputSpec(shape=[1, 16, 16, 3], layout="NHWC", dtype="float32",
                     normalization={"mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4]})
    rgb = decode_image(jpeg_bytes())
    expected = (cv2.resize(rgb, (16, 16)).astype(np.float32) - [123.7, 116.3, 103.5]) / [58.4, 57.1, 57.4]
    np.testing.assert_allclose(Preprocessor(spec)(rgb)[0], expected, rtol=1e-5, atol=1e-5)
