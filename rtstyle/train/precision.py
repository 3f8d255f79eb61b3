"""Which number format and memory layout a training run computes in, chosen from the hardware.

bf16 autocast with channels-last tensors is the fast path wherever the hardware computes bf16
natively: CPUs with AVX512_BF16 or AMX (oneDNN's bf16 convolutions), and CUDA GPUs that support
bf16. Without native bf16 a CPU emulates it and runs slower than float32, so ``auto`` stays in
float32 there. Under autocast only the convolutions and matrix products of the transformer and
the loss network run in bf16; the Gram matrices, the losses and the optimiser state stay float32
(see :class:`.losses.PerceptualLoss` and :func:`.trainer.optimise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ConfigError

MODES = ("auto", "off", "bf16", "bf16-loss", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: /proc/cpuinfo flags that mean native bf16 arithmetic, best first.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class Precision:
    """The resolved choice: ``amp`` is 'off', 'bf16' or 'fp16', never 'auto'."""

    amp: str
    channels_last: bool
    #: Why, in a few words (shown at start-up and stored in the model's metadata).
    reason: str = ""
    #: Whether the net being trained runs under autocast too (False: only the loss network).
    net_amp: bool = True

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES.get(self.amp)

    @property
    def net_dtype(self) -> torch.dtype | None:
        """The autocast dtype of the trained net (None: float32)."""
        return self.dtype if self.net_amp else None

    def describe(self) -> str:
        what = "float32" if self.amp == "off" else f"{self.amp} autocast"
        if self.amp != "off" and not self.net_amp:
            what += " in the loss network only"
        layout = ", channels-last" if self.channels_last else ""
        return f"{what}{layout}" + (f" ({self.reason})" if self.reason else "")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags Linux reports; empty where there is no /proc/cpuinfo."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def native_bf16(device: torch.device, flags: set[str] | None = None) -> str:
    """The name of what computes bf16 natively on ``device`` ('' when nothing does)."""
    if device.type == "cuda":
        return "GPU bf16" if torch.cuda.is_bf16_supported() else ""
    if device.type != "cpu":
        return ""
    flags = cpu_flags() if flags is None else flags
    found = next((f for f in BF16_CPU_FLAGS if f in flags), "")
    return found.upper().replace("_", "-")


def resolve(amp: str, channels_last: bool | None, device: torch.device,
            flags: set[str] | None = None) -> Precision:
    """What ``--amp`` and ``--channels-last`` mean on ``device``.

    ``amp='auto'`` is bf16 where :func:`native_bf16` finds support, else float32;
    ``'bf16-loss'`` is bf16 in the loss network only (the trained net stays float32);
    ``channels_last=None`` follows the precision (on with bf16 or fp16, off in float32).
    """
    if amp not in MODES:
        raise ConfigError(f"amp must be one of {', '.join(MODES)}, got '{amp}'")
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError(f"--amp fp16 needs a CUDA GPU; use --amp bf16 (or off) on {device.type}")
    reason, net_amp = "asked for", True
    if amp == "bf16-loss":
        amp, net_amp = "bf16", False
    if amp == "auto":
        native = native_bf16(device, flags)
        amp, reason = ("bf16", f"{native} found") if native else (
            "off", "no native bf16 here")
    if channels_last is None:
        channels_last = amp != "off"
    return Precision(amp, channels_last, reason, net_amp)
