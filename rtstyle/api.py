"""rtstyle from Python: stylize a file, a PIL image or an RGB array in a line or two.

    from rtstyle import StyleTransfer, stylize

    st = StyleTransfer("starry_night")      # installed name, model folder, .onnx or a painting
    st("photo.jpg")                         # -> Path of out/images/photo_starry_night_lite.jpg
    st("photo.jpg", output="styled.png")    # -> Path("styled.png")
    st(Image.open("photo.jpg"))             # -> PIL.Image.Image
    st(rgb)                                 # HxWx3 uint8 RGB array -> the same

    stylize("photo.jpg")                    # one call, the default style

The session is created once per :class:`StyleTransfer`; calling it again reuses it. Arrays are
RGB, as PIL and most Python imaging code has them (OpenCV's BGR stays inside rtstyle).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import frames, images, styles
from .errors import InputError
from .stylizer import Controls, Stylizer

#: Where a file is written when no ``output`` is given (as ``rtstyle image`` does).
DEFAULT_FOLDER = Path("out/images")


class StyleTransfer:
    """One style, ready to apply. ``style`` is an installed style name (``starry_night`` picks
    the net for this machine), a model folder, an ``.onnx`` file or a painting image (the
    any-painting path); None is the default style."""

    def __init__(self, style: str | os.PathLike | None = None, *, backend: str = "auto",
                 strength: float = 1.0, preserve_color: bool = False,
                 max_side: int | None = None, threads: int = 0):
        controls = Controls(strength=strength, preserve_color=preserve_color)
        self.name, model = _resolve(style, backend, threads)
        self._stylizer = Stylizer({"main": model}, backend=backend, threads=threads,
                                  max_side=max_side, controls=controls, warm_up=None)

    def __repr__(self) -> str:
        return f"StyleTransfer({self.name!r}: {self._stylizer.describe()})"

    def __call__(self, image: Any, output: str | os.PathLike | None = None) -> Any:
        """Stylize ``image`` and return the same kind: a path (the file written), a PIL image
        or an HxWx3 uint8 RGB array."""
        if isinstance(image, (str, os.PathLike)):
            return self.file(image, output)
        if output is not None:
            raise InputError("output= is for file inputs; save the returned image yourself")
        if isinstance(image, np.ndarray):
            return self.array(image)
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - Pillow is a dependency
            Image = None
        if Image is not None and isinstance(image, Image.Image):
            return Image.fromarray(self.array(np.asarray(image.convert("RGB"))))
        raise InputError(f"cannot stylize a {type(image).__name__}: give a file path, a PIL "
                         "image or an HxWx3 uint8 RGB array")

    def array(self, rgb: np.ndarray) -> np.ndarray:
        """An HxWx3 uint8 RGB array, stylized."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InputError(f"expected an HxWx3 uint8 RGB array, got {rgb.dtype} of shape "
                             f"{rgb.shape}")
        return frames.bgr_to_rgb(self._stylizer(frames.rgb_to_bgr(rgb)))

    def file(self, path: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
        """Stylize an image file into ``output`` (default ``out/images/<stem>_<style>.<ext>``)."""
        path = Path(path)
        if output is None:
            suffix = path.suffix.lower() if path.suffix.lower() in (".jpg", ".jpeg", ".png") \
                else ".png"
            output = DEFAULT_FOLDER / f"{path.stem}_{self.name}{suffix}"
        return images.write_image(output, self._stylizer(images.read_image(path)))


def stylize(image: Any, style: str | os.PathLike | None = None,
            output: str | os.PathLike | None = None, **options) -> Any:
    """One call: ``StyleTransfer(style, **options)(image, output)``."""
    return StyleTransfer(style, **options)(image, output)


def _resolve(style, backend: str, threads: int) -> tuple[str, Any]:
    """(the name outputs are labelled with, a model path or a ready any-painting style)."""
    if style is None:
        found = styles.find(styles.DEFAULT, _size(backend))
        return found.name, found
    p = Path(style)
    if p.is_file() and p.suffix.lower() in images.READ_SUFFIXES:
        from . import arbitrary, wct_realtime

        # as the CLI's --style-image: an installed any-painting net, else the WCT graphs
        paintings = arbitrary.load_styles([str(p)], backend, threads) if arbitrary.available() \
            else wct_realtime.load_styles([str(p)], wct_realtime.DEFAULT_LEVEL, backend, threads,
                                          None, 1.0)
        return styles.safe_name(p.stem, "painting"), next(iter(paintings.values()))
    found = styles.find(style, _size(backend))
    return styles.safe_name(found.stem if found.suffix == ".onnx" else found.name, "styled"), found


def _size(backend: str) -> str:
    return styles.prefer_size(backend)
