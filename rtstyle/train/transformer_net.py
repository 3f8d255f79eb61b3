"""The Johnson et al. (2016) image transformer with Ulyanov et al.'s instance normalisation.

Input and output are RGB images in 0..255, ``(N, 3, H, W)`` float. The net is three
reflection-padded convolutions (the 2nd and 3rd stride 2), residual blocks at 1/4 resolution,
two nearest-upsample + convolution stages (no transposed convolutions, hence no checkerboard)
and a 9x9 output convolution. ``NetConfig`` sets the widths and depth; ``NETS`` names the
shipped sizes. Any input size works: :class:`TransformerNet` pads to a multiple of 4 (reflect)
and crops back, so the exported ONNX graph (which does not pad) states ``size_multiple = 4``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, unknown

#: Height and width of the tensors the bare net (without padding) accepts must divide by this.
SIZE_MULTIPLE = 4
#: ... and be at least this (the 1/4-resolution maps need 2 px for reflection padding).
MIN_SIZE = 8


@dataclass(frozen=True)
class NetConfig:
    """Widths and depth of a transformer net; stored with every model so it can be rebuilt."""

    #: Channels after the first conv and the two downsampling convs (Johnson et al.: 32, 64, 128).
    widths: tuple[int, int, int] = (32, 64, 128)
    #: Residual blocks at 1/4 resolution (Johnson et al.: 5).
    blocks: int = 5
    #: Kernel of the first and the last convolution (Johnson et al.: 9).
    outer_kernel: int = 9
    #: Anti-aliased resampling (Zhang 2019, "Making convolutional networks shift-invariant
    #: again"): each stride-2 conv becomes a stride-1 conv followed by a [1 2 1]^2 blur that
    #: subsamples, and each nearest upsampling is followed by the same blur. Johnson et al.'s
    #: strided net only commutes with shifts by multiples of 4 px, so a 1 px motion of the scene
    #: redraws its strokes (flicker); this smooths that at ~20% more multiply-adds.
    antialias: bool = False

    def __post_init__(self):
        if len(self.widths) != 3 or any(int(w) < 1 for w in self.widths):
            raise ConfigError(f"net widths must be three positive numbers, got {self.widths}")
        if self.blocks < 0:
            raise ConfigError(f"net blocks must be >= 0, got {self.blocks}")
        if self.outer_kernel < 1 or self.outer_kernel % 2 == 0:
            raise ConfigError(f"net outer_kernel must be odd, got {self.outer_kernel}")

    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per input pixel (convolutions only): FLOPs ~ 2x this x H x W."""
        c1, c2, c3 = self.widths
        k = self.outer_kernel
        # anti-aliased: the "stride 2" convs run at the input's resolution (4x), and the blurs
        # (9 taps per channel) subsample after them and smooth each upsampling
        down = 4 if self.antialias else 1
        blurs = 9 * (c2 / 4 + c3 / 16 + c3 / 4 + c2) if self.antialias else 0
        return (k * k * 3 * c1                      # first conv, full resolution
                + down * 9 * c1 * c2 / 4             # stride 2 -> 1/4 of the pixels
                + down * 9 * c2 * c3 / 16            # stride 2 -> 1/16
                + self.blocks * 2 * 9 * c3 * c3 / 16  # residual blocks at 1/16
                + 9 * c3 * c2 / 4                    # upsample to 1/4, conv
                + 9 * c2 * c1                        # upsample to full, conv
                + k * k * c1 * 3                     # output conv
                + blurs)


#: Named sizes. 'lite' has about 1/8 of the full net's multiply-adds (see macs_per_pixel),
#: for real time on CPUs; 'tiny' exists for tests.
NETS: dict[str, NetConfig] = {
    "full": NetConfig((32, 64, 128), 5, 9),
    "lite": NetConfig((12, 24, 48), 3, 9),
    "tiny": NetConfig((4, 8, 8), 1, 3),
    "full-aa": NetConfig((32, 64, 128), 5, 9, antialias=True),
    "lite-aa": NetConfig((12, 24, 48), 3, 9, antialias=True),
    "tiny-aa": NetConfig((4, 8, 8), 1, 3, antialias=True),
}


def net_config(name: str) -> NetConfig:
    if name not in NETS:
        raise unknown("net", name, NETS)
    return NETS[name]


class ConvLayer(nn.Sequential):
    """Reflection padding + convolution (the padding keeps borders free of dark frames)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(ConvLayer(cin, cout, kernel, stride),
                         nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN plus the identity (He et al. 2016, as used by Johnson et al.)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3),
            ConvLayer(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour x2 upsampling, then conv-IN-ReLU: no checkerboard (Odena et al. 2016).
    ``antialias`` smooths the upsampled map with :class:`Blur` before the conv."""

    def __init__(self, cin: int, cout: int, antialias: bool = False):
        up = [nn.Upsample(scale_factor=2, mode="nearest")] + ([Blur(cin)] if antialias else [])
        super().__init__(*up, ConvNormReLU(cin, cout, 3))


class Blur(nn.Module):
    """A fixed [1 2 1]/4 x [1 2 1]/4 low-pass per channel (reflection padded), then every
    ``stride``-th pixel: Zhang's (2019) BlurPool. The kernel is a constant, not a weight (it is
    not in the state dict; ONNX export folds it into the graph)."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :]) / 16.0
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)
        self.stride, self.channels = stride, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In contiguous (NCHW) layout even inside a channels-last net: on the CPU the depthwise
        # convolution's gradient is wrong for a channels-last batch of one (torch 2.14; see
        # test_gradients_do_not_depend_on_the_memory_format). A no-op for NCHW input.
        padded = F.pad(x.contiguous(), (1, 1, 1, 1), mode="reflect")
        return F.conv2d(padded, self.kernel.to(x.dtype).contiguous(), stride=self.stride,
                        groups=self.channels)


def _downsample(cin: int, cout: int, antialias: bool) -> list[nn.Module]:
    """A stride-2 conv-IN-ReLU, or (``antialias``) the conv at stride 1 and a subsampling blur."""
    if antialias:
        return [ConvNormReLU(cin, cout, 3), Blur(cout, stride=2)]
    return [ConvNormReLU(cin, cout, 3, 2)]


class TransformerNet(nn.Module):
    """RGB 0..255 ``(N, 3, H, W)`` in, stylised RGB ``(N, 3, H, W)`` out (clamped to 0..255 in eval).

    ``pad=True`` (the default) accepts any H and W; ``pad=False`` is the bare graph that needs
    H and W divisible by :data:`SIZE_MULTIPLE` (what is exported to ONNX).
    """

    def __init__(self, config: NetConfig = NETS["full"]):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.widths
        k = config.outer_kernel
        aa = config.antialias
        self.encoder = nn.Sequential(
            ConvNormReLU(3, c1, k), *_downsample(c1, c2, aa), *_downsample(c2, c3, aa))
        self.residuals = nn.Sequential(*(ResidualBlock(c3) for _ in range(config.blocks)))
        self.decoder = nn.Sequential(UpsampleConv(c3, c2, aa), UpsampleConv(c2, c1, aa),
                                     ConvLayer(c1, 3, k))

    def forward(self, x: torch.Tensor, pad: bool = True) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected RGB images (N, 3, H, W), got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        ph = max(MIN_SIZE - h, -h % SIZE_MULTIPLE)
        pw = max(MIN_SIZE - w, -w % SIZE_MULTIPLE)
        if pad and (ph or pw):
            # Reflect padding needs the pad to be smaller than the side; replicate otherwise.
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        elif ph or pw:
            raise ValueError(f"height and width must be multiples of {SIZE_MULTIPLE} and at least "
                             f"{MIN_SIZE}, got {h}x{w}")
        # Scale to about -1..1 for well-conditioned first activations (instance norm follows,
        # but the stored weights then match across input ranges); map the output back to 0..255.
        y = self.decoder(self.residuals(self.encoder(x / 127.5 - 1.0)))
        y = y * 127.5 + 127.5
        if not self.training:
            y = y.clamp(0.0, 255.0)
        return y[..., :h, :w] if (ph or pw) else y


def build(config: NetConfig | dict) -> TransformerNet:
    """A fresh net from a config or its dict (as stored in checkpoints and model folders)."""
    if isinstance(config, dict):
        try:
            config = NetConfig(widths=tuple(int(w) for w in config["widths"]),
                               blocks=int(config["blocks"]),
                               outer_kernel=int(config.get("outer_kernel", 9)),
                               antialias=_flag(config.get("antialias", False)))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"invalid net description {config!r}: {e}") from e
    return TransformerNet(config)


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"antialias must be true or false, got {value!r}")
    return value


def describe(config: NetConfig) -> dict:
    """The config as stored in model.json; ``antialias`` only when set, so the models made
    before it existed keep their exact metadata."""
    d = {**asdict(config), "widths": list(config.widths)}
    if not config.antialias:
        del d["antialias"]
    return d


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
