"""Refit a WCT decoder's last convolution by least squares.

Every decoder ends in one linear 3x3 convolution (64 -> 3 channels, no ReLU) from its last
feature map to the pixels. With the layers before it fixed, the pixel error is a quadratic in
that convolution's 1,731 weights, so its exact minimum comes from the normal equations over
many photos in one pass. Training leaves it well away from there, because the training loss
is mostly the feature term, which PSNR, the decoders' measure, does not see. For relu1_1 that
convolution is the whole decoder: the refit is its best reconstruction.

The pixel-optimal layer is the conditional mean, a little smoother: harmless for relu1_1 and
relu2_1, but on relu3_1 it costs the strokes WCT draws (docs/any-painting.md).
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ... import frames
from .models import FEATURE_SCALE, WCTDecoder, WCTEncoder, size_multiple


class NormalEquations:
    """Running ``X^T X`` and ``X^T Y`` (float64) of the last convolution's patches and targets."""

    def __init__(self, in_channels: int, out_channels: int = 3):
        n = in_channels * 9 + 1  # 3x3 patches + the bias
        self.xtx = torch.zeros(n, n, dtype=torch.float64)
        self.xty = torch.zeros(n, out_channels, dtype=torch.float64)
        self.rows = 0

    def add(self, patches: torch.Tensor, targets: torch.Tensor) -> None:
        """``patches``: (rows, in*9); ``targets``: (rows, out), both float32."""
        x = torch.cat([patches, patches.new_ones(len(patches), 1)], dim=1)
        self.xtx += (x.T @ x).double()
        self.xty += (x.T @ targets).double()
        self.rows += len(x)

    def solve(self, ridge: float = 1e-6) -> torch.Tensor:
        """Weights (in*9 + 1, out); ``ridge`` is relative to the mean diagonal."""
        a = self.xtx / self.rows
        a = a + ridge * a.diagonal().mean() * torch.eye(len(a), dtype=a.dtype)
        return torch.linalg.solve(a, self.xty / self.rows)


def last_conv(decoder: WCTDecoder) -> torch.nn.Conv2d:
    conv = decoder.body[-1][-1]
    assert isinstance(conv, torch.nn.Conv2d) and conv.out_channels == 3
    return conv


@torch.no_grad()
def accumulate(encoder: WCTEncoder, decoder: WCTDecoder, imgs: Iterable[np.ndarray],
               progress: Callable[[int], None] | None = None) -> NormalEquations:
    """The normal equations of the last convolution over BGR uint8 ``imgs``."""
    from .stylize import pad

    decoder.eval()
    head, tail = decoder.body[:-1], decoder.body[-1]
    eq = NormalEquations(last_conv(decoder).in_channels)
    for i, img in enumerate(imgs):
        x = torch.from_numpy(frames.to_model_input(img))
        x, (h, w) = pad(x, size_multiple(decoder.level))
        a = tail[0](head(encoder(x) / FEATURE_SCALE))  # the padded input of the last conv
        a = a[..., :h + 2, :w + 2]  # only the pixels of the photo, not of its padding
        patches = F.unfold(a, 3)[0].T  # (h*w, C*9), row-major like Conv2d's weights
        target = ((x[..., :h, :w] - 127.5) / 127.5)[0].flatten(1).T  # (h*w, 3)
        eq.add(patches.float(), target.float())
        if progress:
            progress(i + 1)
    return eq


@torch.no_grad()
def refit_last(encoder: WCTEncoder, decoder: WCTDecoder, imgs: Iterable[np.ndarray],
               ridge: float = 1e-6,
               progress: Callable[[int], None] | None = None) -> NormalEquations:
    """Set ``decoder``'s last convolution to the least-squares fit on ``imgs`` (in place)."""
    eq = accumulate(encoder, decoder, imgs, progress)
    w = eq.solve(ridge).float()
    conv = last_conv(decoder)
    conv.weight.copy_(w[:-1].T.reshape_as(conv.weight))
    conv.bias.copy_(w[-1])
    return eq


#: The refit folder's picture: held-out photos, rebuilt before and after.
PREVIEW = "preview.jpg"
PREVIEW_IMAGES = 4


def preview(encoder: WCTEncoder, before: WCTDecoder, after: WCTDecoder,
            named: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """A sheet: the photos, then their reconstructions before and after, titled with PSNR."""
    from ... import grid
    from ...quality import psnr
    from .trainer import reconstruct

    names, imgs = zip(*named)
    rows, titles = [list(imgs)], [list(names)]
    for label, dec in (("before", before), ("refit", after)):
        outs = reconstruct(encoder, dec, imgs)
        rows.append(outs)
        titles.append([f"{label}: {psnr(o, i):.1f} dB" for o, i in zip(outs, imgs)])
    return grid.image_grid(rows, cell=192, titles=titles)


def pick_photos(data: str | os.PathLike, count: int, seed: int = 0) -> list[Path]:
    """``count`` photos of ``data`` (recursive), a seeded draw, so a refit can be repeated."""
    from ..data import find_images

    files = find_images(data)
    random.Random(seed).shuffle(files)
    return files[:count]


def refit_folder(model: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *,
                 count: int = 100, size: int = 512, seed: int = 0, ridge: float = 1e-6,
                 eval_paths: Sequence[str | os.PathLike] = (), eval_size: int = 512,
                 progress: Callable[[int], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """Refit the last convolution of the decoder folder ``model`` on ``count`` photos of
    ``data`` (longer side ``size``) and write the result to ``out`` (atomically; ``out`` may be
    ``model`` itself). The metadata keeps the training facts, adds ``refit`` and the new
    reconstruction PSNR on ``eval_paths`` and a preview of a few of them rebuilt before and
    after. The folder's ONNX graphs are not carried over: they were exported from the old
    weights (``rtstyle export`` writes new ones)."""
    from ... import images as image_io
    from ...errors import InputError
    from .. import model_folder
    from .levels import FLOOR_DB
    from .trainer import KIND, encoder_for, eval_images_from, evaluate, load_decoder

    decoder, meta = load_decoder(model)
    files = pick_photos(data, count, seed)
    encoder = encoder_for(decoder.level)
    skipped: list[str] = []

    def photos():
        for f in files:
            try:
                yield image_io.read_image(f, max_side=size)
            except InputError:
                skipped.append(str(f))

    held_out = eval_images_from(eval_paths, eval_size) if eval_paths else []
    old = copy.deepcopy(decoder).half().float()  # as stored, like the refit one below
    before = evaluate(encoder, old, held_out)["psnr_db"] if held_out else None
    eq = refit_last(encoder, decoder, photos(), ridge, progress)
    if eq.rows == 0:
        raise InputError(f"none of the {len(files)} photos drawn from {data} could be read")
    evaluation, extra = {}, {}
    if held_out:
        new_dec = copy.deepcopy(decoder).half().float()
        evaluation = evaluate(encoder, new_dec, held_out)
        evaluation["floor_db"] = FLOOR_DB[decoder.level]
        extra[PREVIEW] = preview(encoder, old, new_dec, held_out[:PREVIEW_IMAGES])
    new = {k: v for k, v in meta.items() if k not in ("format", "version", "kind", "io",
                                                      "weights", "evaluation", "refit")}
    new["refit"] = {"layer": "last convolution", "method": "least squares (pixels)",
                    "photos": len(files) - len(skipped), "skipped": len(skipped),
                    "size": size, "seed": seed, "ridge": ridge, "data": str(Path(data).resolve()),
                    "psnr_db_before": before}
    new["evaluation"] = evaluation
    folder = model_folder.save(out, decoder, new, kind=KIND, dtype=torch.float16,
                               io=meta["io"], extra_images=extra)
    return folder, new
