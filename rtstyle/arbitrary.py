"""Any painting through a style-prediction net (torch-free): the painting's style code is
predicted once (``predictor.onnx``), then every frame runs the transformer (``model.onnx``)
with that code, at a trained net's speed. ``rtstyle train-any`` trains such a net and
``rtstyle export`` writes both graphs into its model folder; it is found as
``any_painting/`` in the models folders.

:class:`PaintingStyle` looks like an inference backend to :class:`~rtstyle.stylizer.Stylizer`;
the paintings of one net share its frame session, so switching between them creates nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import frames, images
from .errors import ConfigError
from .metadata import ModelError
from .onnx_model import FP32_FILE, STYLE_WEIGHTS_NAME
from .styles import unique_name

PREDICTOR_FILE = "predictor.onnx"
#: The model folder's name inside a models folder.
FOLDER = "any_painting"
#: Longer side a painting is scaled to before its code is predicted, when the net does not say.
STYLE_SIZE = 256


def search_folders() -> list[Path]:
    from .styles import search_path

    return [root / FOLDER for root in search_path()]


def find(folder: str | os.PathLike | None = None) -> Path:
    """The any-painting model folder with both graphs (or check ``folder``)."""
    candidates = [Path(folder)] if folder else search_folders()
    for c in candidates:
        if (c / FP32_FILE).is_file() and (c / PREDICTOR_FILE).is_file():
            return c
    where = candidates[0] if folder else " or ".join(str(c) for c in candidates[:2])
    raise ModelError(f"no any-painting net in {where}: train one with 'rtstyle train-any' and "
                     "export it with 'rtstyle export --model RUN/model'")


def available() -> bool:
    try:
        find()
    except ModelError:
        return False
    return True


def open_net(folder=None, backend: str = "auto", threads: int = 0,
             shape: tuple[int, int] | None = None):
    """(frame backend, predictor backend) of an any-painting net, roles and sizes checked."""
    from .backends import make_backend

    root = find(folder)
    net = make_backend(root / FP32_FILE, backend, threads, shape, wct=True)
    predictor = make_backend(root / PREDICTOR_FILE, backend, threads, None, wct=True)
    roles = (net.info.arbitrary.get("role"), predictor.info.arbitrary.get("role"))
    if roles != ("transformer", "predictor"):
        raise ModelError(f"{root}: {FP32_FILE} and {PREDICTOR_FILE} have the wrong roles {roles}")
    if net.info.arbitrary["basis"] != predictor.info.arbitrary["basis"]:
        raise ModelError(f"{root}: the predictor and the transformer are of different nets")
    return net, predictor


class PaintingStyle:
    """A painting as a real-time style of an any-painting net (see the module docstring)."""

    def __init__(self, image: np.ndarray, net, predictor, name: str = "painting",
                 style_size: int | None = None):
        self.net, self.info, self.name = net, net.info, name
        size = style_size or int(net.info.card.get("net", {}).get("style_size") or STYLE_SIZE)
        painting = images.fit_within(image, size)
        if min(painting.shape[:2]) < 16:
            raise ConfigError(f"the style image '{name}' is {image.shape[1]}x{image.shape[0]}: "
                              "too small (each side needs at least 16 px)")
        code = predictor.run(frames.to_model_input(painting))
        if not np.isfinite(code).all():
            raise ModelError(f"{predictor.info.path} gives a non-finite style code for '{name}'")
        self.code = code.astype(np.float32).reshape(1, -1)

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.net.feeds = {STYLE_WEIGHTS_NAME: self.code}  # the session is shared
        return self.net.run(batch)

    def warm_up(self, shape: tuple[int, int]) -> None:
        self.net.feeds = {STYLE_WEIGHTS_NAME: self.code}
        self.net.warm_up(shape)

    def describe(self) -> str:
        return f"any-painting net, {self.net.describe()}"


def load_styles(paths, backend: str = "auto", threads: int = 0,
                shape: tuple[int, int] | None = None,
                folder: str | os.PathLike | None = None) -> dict[str, PaintingStyle]:
    """``--style-image`` paths -> {name: PaintingStyle}, one frame session for all of them."""
    net, predictor = open_net(folder, backend, threads, shape)
    out: dict[str, PaintingStyle] = {}
    for p in paths:
        name = unique_name(Path(p).stem or "painting", out)
        out[name] = PaintingStyle(images.read_image(p), net, predictor, name)
    return out
