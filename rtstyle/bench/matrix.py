"""Which cases run: backend x net x resolution x batch.

The full matrix is meant for a GPU machine; cases that cannot run where the benchmark runs (no
CUDA provider, no GPU, no torch) are recorded as skipped with the reason, never dropped. The
quick matrix (``rtstyle bench --quick``) runs in a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ConfigError, InputError, unknown

#: Backend, engine and precision in one name (the case key's first part).
BACKENDS = ("torch-eager-fp32", "torch-compile-fp16", "ort-cpu-fp32", "ort-cpu-int8",
            "ort-cuda-fp32", "ort-cuda-fp16", "ort-trt-fp16")
#: Short names accepted by ``--backends`` (the product's ``--backend`` names).
ALIASES = {"torch": ("torch-eager-fp32",), "torch-eager": ("torch-eager-fp32",),
           "torch-compile": ("torch-compile-fp16",), "ort-cpu": ("ort-cpu-fp32",),
           "ort-cpu-int8": ("ort-cpu-int8",),
           "ort-cuda": ("ort-cuda-fp32", "ort-cuda-fp16"), "ort-trt": ("ort-trt-fp16",)}
#: Johnson full, Johnson lite, the WCT real-time path (relu3_1 content graph).
NETS = ("full", "lite", "wct")
#: Also accepted by --nets: the anti-aliased Johnson nets (docs/flicker.md).
EXTRA_NETS = ("full-aa", "lite-aa")
SIZES = ((256, 256), (640, 360), (1280, 720), (1920, 1080))
BATCHES = (1, 8)

#: ort-cpu-int8 runs the WCT graph only (the Johnson nets have no int8 export: it bought them
#: 1.17x at 32 dB, bench/experiments/int8_style_net.py); their int8 cases are recorded as
#: skipped.
QUICK_BACKENDS = ("ort-cpu-fp32", "ort-cpu-int8", "torch-eager-fp32")
QUICK_SIZES = ((256, 256), (640, 360))
QUICK_BATCHES = (1,)
#: Added to the quick matrix: the lite net at batch 8 (offline video), 256x256.
QUICK_EXTRA = ("lite", (256, 256), 8)

#: The case other cases are related to when two runs on different machines are compared.
REFERENCE = "ort-cpu-fp32/lite/256x256/b1"


@dataclass(frozen=True)
class Case:
    backend: str
    net: str
    width: int
    height: int
    batch: int = 1

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.net}/{self.size}/b{self.batch}"

    @property
    def precision(self) -> str:
        return self.backend.rsplit("-", 1)[1]


def parse_backends(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        name = item.strip().lower()
        if name in BACKENDS:
            chosen: Sequence[str] = (name,)
        elif name in ALIASES:
            chosen = ALIASES[name]
        else:
            raise unknown("benchmark backend", name, [*BACKENDS, *ALIASES])
        out += [c for c in chosen if c not in out]
    if not out:
        raise ConfigError("no backend given")
    return tuple(out)


def parse_nets(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        name = item.strip().lower()
        if name not in NETS + EXTRA_NETS:
            raise unknown("net", name, NETS + EXTRA_NETS)
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no net given")
    return tuple(out)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)`` (width, height; each at least 16)."""
    parts = text.strip().lower().split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        w, h = int(parts[0]), int(parts[1])
    except ValueError:
        raise InputError(f"a size must look like 1280x720 (WIDTHxHEIGHT), got '{text}'") from None
    if w < 16 or h < 16:
        raise InputError(f"a size must be at least 16x16, got '{text}'")
    if w * h > 7680 * 4320:
        raise InputError(f"a size must be at most 8K (7680x4320 pixels), got '{text}'")
    return w, h


def parse_sizes(items: Iterable[str]) -> tuple[tuple[int, int], ...]:
    out = tuple(dict.fromkeys(parse_size(t) for t in items))
    if not out:
        raise ConfigError("no size given")
    return out


def parse_batches(items: Iterable[str]) -> tuple[int, ...]:
    out: list[int] = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            raise InputError(f"a batch size must be a whole number, got '{item}'") from None
        if not 1 <= value <= 256:
            raise InputError(f"a batch size must be between 1 and 256, got {value}")
        if value not in out:
            out.append(value)
    if not out:
        raise ConfigError("no batch size given")
    return tuple(out)


def cases(quick: bool = False, backends: Sequence[str] | None = None,
          nets: Sequence[str] | None = None, sizes: Sequence[tuple[int, int]] | None = None,
          batches: Sequence[int] | None = None) -> list[Case]:
    """The cases to run, grouped by backend and net (one session each) in a stable order.

    Without overrides: the full matrix, or with ``quick`` the quick one (plus the lite net at
    batch 8, 256x256, on each quick backend). Overrides replace one axis of either.
    """
    b = tuple(backends or (QUICK_BACKENDS if quick else BACKENDS))
    n = tuple(nets or NETS)
    s = tuple(sizes or (QUICK_SIZES if quick else SIZES))
    k = tuple(batches or (QUICK_BATCHES if quick else BATCHES))
    out = [Case(be, net, w, h, bt) for be, net, (w, h), bt in itertools.product(b, n, s, k)]
    if quick and not (sizes or batches):
        net, (w, h), bt = QUICK_EXTRA
        if net in n:
            out += [Case(be, net, w, h, bt) for be in b]
    out = list(dict.fromkeys(out))
    order = {be: i for i, be in enumerate(b)}
    nets_order = {x: i for i, x in enumerate(n)}
    return sorted(out, key=lambda c: (order[c.backend], nets_order[c.net], c.width * c.height,
                                      c.batch))
