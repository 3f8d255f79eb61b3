"""rtstyle.images: forgiving reads of real image files, strict refusals, atomic writes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from rtstyle import images
from rtstyle.errors import ImageError, InputError


def test_greyscale_png_gives_three_equal_channels(tmp_path, rng):
    grey = rng.integers(0, 256, (9, 13), dtype=np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    img = images.read_image(tmp_path / "g.png")
    assert img.shape == (9, 13, 3) and img.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], grey)


def test_rgba_png_is_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (200, 10, 20)  # RGB
    rgba[:2, :, 3] = 255  # top half opaque
    rgba[2:, :, 3] = 0  # bottom half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = images.read_image(tmp_path / "a.png")
    assert img.shape == (4, 4, 3)
    assert np.all(img[:2] == (20, 10, 200))  # BGR of the opaque colour
    assert np.all(img[2:] == 255)  # white, not the hidden colour and not black


def test_16bit_greyscale_png_is_scaled_to_8bit(tmp_path):
    values = np.array([[0, 65535], [32896, 257]], np.uint16)
    assert cv2.imwrite(str(tmp_path / "g16.png"), values)
    img = images.read_image(tmp_path / "g16.png")
    assert img.dtype == np.uint8
    assert img[..., 0].tolist() == [[0, 255], [128, 1]]
    assert np.all(img == img[..., :1])


def test_dark_16bit_png_is_not_mistaken_for_8bit(tmp_path):
    # every value <= 255 in 16 bits is almost black, not full range
    assert cv2.imwrite(str(tmp_path / "dark.png"), np.full((3, 3), 255, np.uint16))
    assert images.read_image(tmp_path / "dark.png").max() == 1


def test_palette_image(tmp_path):
    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[:, :3] = (255, 0, 0)
    rgb[:, 3:] = (0, 0, 255)
    Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4) \
        .save(tmp_path / "p.png")
    with Image.open(tmp_path / "p.png") as saved:
        assert saved.mode == "P"
    img = images.read_image(tmp_path / "p.png")
    assert img.shape == (6, 6, 3)
    assert np.all(img[:, :3] == (0, 0, 255))  # red, in BGR
    assert np.all(img[:, 3:] == (255, 0, 0))  # blue, in BGR


def test_palette_image_with_transparency_is_composited(tmp_path):
    pal = Image.new("P", (4, 2), 0)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * (254 * 3))
    pal.putpixel((0, 0), 1)
    pal.save(tmp_path / "pt.png", transparency=0)
    img = images.read_image(tmp_path / "pt.png")
    assert img[0, 0].tolist() == [0, 255, 0]
    assert img[1, 3].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (40, 20), (90, 120, 150)).save(tmp_path / "r.jpg", exif=exif)
    img = images.read_image(tmp_path / "r.jpg")
    assert img.shape == (40, 20, 3)  # displayed upright: 20 wide, 40 high


def test_max_side_downscales_jpeg_and_never_upscales(tmp_path, rng):
    big = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    assert cv2.imwrite(str(tmp_path / "big.jpg"), big)
    small = images.read_image(tmp_path / "big.jpg", max_side=50)
    assert small.shape == (30, 50, 3)
    same = images.read_image(tmp_path / "big.jpg", max_side=2000)
    assert same.shape == (300, 500, 3)


def test_max_side_must_be_positive(tmp_path, content_path):
    with pytest.raises(InputError):
        images.read_image(content_path, max_side=0)


def _bad_file(tmp_path, kind):
    if kind == "missing":
        return tmp_path / "nope.jpg"
    if kind == "folder":
        (tmp_path / "dir.png").mkdir()
        return tmp_path / "dir.png"
    path = tmp_path / f"{kind}.jpg"
    if kind == "corrupt":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 99, np.uint8))
        path.write_bytes(buf.tobytes()[:200])
    return path


@pytest.mark.parametrize("kind", ["missing", "folder", "corrupt", "empty", "truncated"])
def test_unreadable_files_raise_image_error_naming_the_path(tmp_path, kind):
    path = _bad_file(tmp_path, kind)
    with pytest.raises(ImageError) as e:
        images.read_image(path)
    assert str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_image_over_max_pixels_is_refused(tmp_path, monkeypatch):
    Image.new("RGB", (20, 10)).save(tmp_path / "wide.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 199)
    with pytest.raises(ImageError, match="too large") as e:
        images.read_image(tmp_path / "wide.png")
    assert "wide.png" in str(e.value)
    monkeypatch.setattr(images, "MAX_PIXELS", 200)
    assert images.read_image(tmp_path / "wide.png").shape == (10, 20, 3)


def test_write_png_round_trip_is_exact(tmp_path, rng):
    img = rng.integers(0, 256, (11, 7, 3), dtype=np.uint8)
    out = images.write_image(tmp_path / "x.png", img)
    assert out == tmp_path / "x.png"
    np.testing.assert_array_equal(images.read_image(out), img)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]  # no temp file left


def test_write_jpeg_is_close(tmp_path):
    img = np.full((16, 16, 3), (30, 120, 220), np.uint8)
    images.write_image(tmp_path / "x.jpg", img)
    assert np.abs(images.read_image(tmp_path / "x.jpg").astype(int) - img).max() <= 3


@pytest.mark.parametrize("name", ["x.xyz", "noext"])
def test_write_unsupported_extension_creates_nothing(tmp_path, name):
    with pytest.raises(InputError, match="cannot write"):
        images.write_image(tmp_path / name, np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_write_into_missing_folder_creates_it(tmp_path):
    images.write_image(tmp_path / "missing" / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert images.read_image(tmp_path / "missing" / "x.png").shape == (4, 4, 3)


def test_write_onto_a_folder(tmp_path):
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InputError, match="folder"):
        images.write_image(tmp_path / "d.png", np.zeros((4, 4, 3), np.uint8))


def test_list_images_recursive_sorted_and_filtered(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    for rel in ["z.png", "a.JPG", "b/c.webp", "b/deep/d.bmp", "notes.txt", "b/model.onnx"]:
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()  # a folder with an image suffix is not an image
    found = images.list_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == \
        ["a.JPG", "b/c.webp", "b/deep/d.bmp", "z.png"]
    assert [p.name for p in images.list_images(tmp_path, recursive=False)] == ["a.JPG", "z.png"]


def test_list_images_needs_a_folder(tmp_path):
    with pytest.raises(InputError):
        images.list_images(tmp_path / "missing")
