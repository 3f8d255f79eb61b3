"""Reading and writing still images as BGR uint8 frames.

Reading is forgiving where a conversion is obvious (greyscale, palette, CMYK, alpha, 16-bit,
EXIF rotation) and strict where it is not (missing, corrupt, absurdly large). Writing is atomic.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import atomic, frames
from .errors import ImageError, InputError

log = logging.getLogger(__name__)

#: Images with more pixels than this are refused before decoding (about 16k x 16k).
MAX_PIXELS = 16384 * 16384
WRITE_FORMATS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
READ_SUFFIXES = WRITE_FORMATS + (".gif", ".ppm", ".pgm")


def _to_rgb8(img: Image.Image, path: Path) -> np.ndarray:
    """Convert any PIL mode to an RGB uint8 array, explaining conversions in the log."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img).astype(np.float64)
        if mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0  # 0..65535 -> 0..255
        elif mode == "F" and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        log.info("%s: %s image converted to 8-bit RGB", path, mode)
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        log.info("%s: alpha channel composited over white", path)
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    if img.mode != "RGB":
        if img.mode not in ("L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBA"):
            log.info("%s: %s image converted to RGB", path, img.mode)
        img = img.convert("RGB")
    return np.asarray(img)


def read_image(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """Read an image file as a BGR uint8 ``(H, W, 3)`` frame.

    ``max_side`` scales the image down (never up) so that its longer side is at most that many
    pixels; JPEGs are then decoded at reduced resolution, which caps memory for huge photos.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image not found: {path}")
    if path.is_dir():
        raise ImageError(f"expected an image file, got a folder: {path}")
    return _decode(path, path, max_side)


def decode_image(data: bytes, name: str = "standard input",
                 max_side: int | None = None) -> np.ndarray:
    """An image file's bytes (e.g. read from standard input) as a BGR uint8 frame."""
    if not data:
        raise ImageError(f"no image data on {name}")
    return _decode(io.BytesIO(data), name, max_side)


def _decode(source, path, max_side: int | None) -> np.ndarray:
    if max_side is not None and max_side < 1:
        raise InputError(f"size must be a positive number of pixels, got {max_side}")
    try:
        with warnings.catch_warnings(), Image.open(source) as img:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"image too large: {path} is {w}x{h} ({w * h / 1e6:.0f} MP); "
                                 f"the limit is {MAX_PIXELS / 1e6:.0f} MP — downscale it first")
            if max_side is not None and max(w, h) > max_side and img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            rgb = _to_rgb8(ImageOps.exif_transpose(img), path)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageError(f"image too large: {path} ({e})") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"cannot read image {path}: not a valid image file ({e})") from e
    if min(rgb.shape[:2]) < 1:
        raise ImageError(f"image has no pixels: {path}")
    bgr = frames.rgb_to_bgr(rgb)
    if max_side is not None:
        bgr = fit_within(bgr, max_side)
    return bgr


def fit_within(img: np.ndarray, max_side: int) -> np.ndarray:
    """Scale ``img`` down (area interpolation) so its longer side is ``max_side``; never up."""
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def resize_to(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``(H, W)``: area interpolation when shrinking, cubic when enlarging."""
    h, w = size
    if (h, w) == img.shape[:2]:
        return img
    shrink = h * w < img.shape[0] * img.shape[1]
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def encode_image(img: np.ndarray, suffix: str) -> bytes:
    """Encode a BGR uint8 frame to the bytes of an image file of the given suffix."""
    suffix = suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise InputError(f"cannot write '{suffix or 'no extension'}' images; "
                         f"use one of {', '.join(WRITE_FORMATS)}")
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, img, params)
    if not ok:
        raise ImageError(f"could not encode image as {suffix}")
    return buf.tobytes()


def check_image_path(path: str | os.PathLike) -> Path:
    """Check, before any work, that an image can be written at ``path`` (folder, extension)."""
    path = atomic.check_output_path(path)
    if path.suffix.lower() not in WRITE_FORMATS:
        raise InputError(f"cannot write '{path.suffix or 'no extension'}' images ({path}); "
                         f"use one of {', '.join(WRITE_FORMATS)}")
    return path


def write_image(path: str | os.PathLike, img: np.ndarray) -> Path:
    """Write a BGR uint8 frame atomically; the format follows the file extension."""
    path = check_image_path(path)
    data = encode_image(img, path.suffix)  # encode fully before touching the disk
    return atomic.write_bytes(path, data)


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files below ``folder`` (by extension), sorted for reproducibility."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    it = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in it if p.suffix.lower() in READ_SUFFIXES and p.is_file())


def collect_images(paths: Sequence[str | os.PathLike], limit: int | None = None) -> list[Path]:
    """Image files from a mix of files and folders (folders searched recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise InputError(f"no images found in {p}")
            out += found
        elif p.exists():
            out.append(p)
        else:
            raise ImageError(f"image not found: {p}")
    return out[:limit] if limit else out
