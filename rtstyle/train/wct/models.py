"""The WCT autoencoders (Li et al. 2017): fixed VGG19 encoders up to relu{L}_1 and the decoders
that mirror them (nearest upsampling + reflection-padded convolutions), for levels 1..5.

Both take and give RGB 0..255 ``(N, 3, H, W)`` images, like every rtstyle model; the encoder
does the Caffe preprocessing itself. Level L downsamples by 2^(L-1), so H and W should divide by
that (the runtime pads).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from ..vgg19 import VGG19

LEVELS = (1, 2, 3, 4, 5)
#: Channels of relu{L}_1.
CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
#: VGG19 convs per block, used to mirror the encoder.
_BLOCKS = (2, 2, 4, 4, 4)
_WIDTHS = (64, 128, 256, 512, 512)


def check_level(level: int) -> int:
    if level not in LEVELS:
        raise ConfigError(f"WCT level must be one of 1..5 (relu1_1 .. relu5_1), got {level}")
    return level


def size_multiple(level: int) -> int:
    return 2 ** (check_level(level) - 1)


class WCTEncoder(nn.Module):
    """VGG19 from the image to relu{level}_1, frozen; a plain module (exports to ONNX)."""

    def __init__(self, vgg: VGG19, level: int):
        super().__init__()
        self.level = check_level(level)
        target = f"relu{level}_1"
        layers = []
        for name, module in vgg.body.items():
            layers.append(module)
            if name == target:
                break
        self.body = nn.Sequential(*layers)
        self.register_buffer("mean_bgr", vgg.mean_bgr.clone())
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "WCTEncoder":
        return super().train(False)  # always frozen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flip(1) - self.mean_bgr)


#: Our Caffe VGG19 features of 0..255 images are ~57.6x those of 0..1 images normalised by the
#: ImageNet std (255 * 0.226, see presets/train.toml); dividing the feature error by its square
#: puts lambda on the paper's scale.
FEATURE_SCALE = 57.6


class _Conv(nn.Sequential):
    def __init__(self, cin: int, cout: int, relu: bool = True):
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class WCTDecoder(nn.Module):
    """Mirror of the encoder for ``level``: relu{level}_1 features -> RGB 0..255 image."""

    def __init__(self, level: int):
        super().__init__()
        self.level = check_level(level)
        layers: list[nn.Module] = []
        ch = CHANNELS[level]
        for b in range(level, 0, -1):  # blocks level..1, coarse to fine
            width = _WIDTHS[b - 1]
            if b < level:
                # the block above ended with a conv to this block's width; upsample, then the
                # remaining convs of this block (VGG block b has _BLOCKS[b-1] convs)
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                for _ in range(_BLOCKS[b - 1] - 1):
                    layers.append(_Conv(width, width))
            if b > 1:
                below = _WIDTHS[b - 2]
                layers.append(_Conv(ch if b == level else width, below))
                ch = below
            else:
                layers.append(_Conv(ch if b == level else width, 3, relu=False))
        self.body = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        # features on the paper's scale (about 0..1 images normalised by the ImageNet std) keep
        # the initial outputs, and the gradients, in a sane range
        y = self.body(feat / FEATURE_SCALE) * 127.5 + 127.5
        return y if self.training else y.clamp(0.0, 255.0)


def reconstruction_loss(decoded: torch.Tensor, image: torch.Tensor, encoder: WCTEncoder,
                        target_feat: torch.Tensor, feature_weight: float = 1.0
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Li et al.'s ``||I_out - I_in||^2 + lambda ||Phi(I_out) - Phi(I_in)||^2`` as means.

    Returns (total, pixel term, feature term). Pixels are compared on the 0..1 scale and
    features on the paper's scale (:data:`FEATURE_SCALE`), so lambda = 1 is the paper's.
    """
    pixel = F.mse_loss(decoded / 255.0, image / 255.0)
    if feature_weight:
        feature = F.mse_loss(encoder(decoded), target_feat) / FEATURE_SCALE ** 2
    else:
        feature = decoded.new_zeros(())
    return pixel + feature_weight * feature, pixel, feature
