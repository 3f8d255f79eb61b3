"""PyTorch backends for comparisons: eager fp32, and compiled fp16 channels-last (CUDA graphs).

They take a model folder (safetensors weights), or an ONNX file inside one, and offer the same
``run``/``warm_up``/``describe`` as the ONNX Runtime backend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import metadata
from .device import resolve_device
from .model_folder import load


@dataclass(frozen=True)
class _Info:
    size_multiple: int
    precision: str
    name: str


class TorchBackend:
    def __init__(self, model: str | os.PathLike, compiled: bool = False, device: str = "auto"):
        path = Path(model)
        folder = path.parent if path.suffix == ".onnx" else path
        self.device = resolve_device(device)
        net, self.meta = load(metadata.model_dir(folder), self.device)
        self.compiled = compiled
        half = compiled and self.device.type == "cuda"
        self.dtype = torch.float16 if half else torch.float32
        if half:
            net = net.half().to(memory_format=torch.channels_last)
        self.net = net
        self._fn = net
        if compiled:
            # reduce-overhead = CUDA graphs on GPU; on CPU this is plain inductor compilation.
            self._fn = torch.compile(net, mode="reduce-overhead" if half else "default",
                                     dynamic=False)
        self.info = _Info(metadata.IO_CONTRACT["size_multiple"], "fp16" if half else "fp32",
                          str(self.meta.get("name", folder.name)))
        self.provider = ("torch-compile" if compiled else "torch") + f" ({self.device.type})"

    @torch.no_grad()
    def run(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        x = x.to(self.dtype)
        if self.dtype == torch.float16:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self._fn(x)
        return y.float().cpu().numpy()

    def warm_up(self, shape: tuple[int, int]) -> None:
        m = self.info.size_multiple
        h, w = (-(-shape[0] // m) * m, -(-shape[1] // m) * m)
        for _ in range(3 if self.compiled else 1):
            self.run(np.zeros((1, 3, h, w), np.float32))

    def describe(self) -> str:
        return f"{self.provider} ({self.info.precision})"
