"""Loss-definition flags shared by every command that optimises or trains against a loss."""

from __future__ import annotations

import argparse

from .args import name_list, nonneg_float, float_list

# flag dest -> dotted config key (relative to the LossConfig)
LOSS_FLAGS = {
    "loss_net": "loss_net", "pooling": "pooling", "content_layers": "content_layers",
    "style_layers": "style_layers", "style_layer_weights": "style_layer_weights",
    "content_weight": "content_weight", "style_weight": "style_weight", "tv_weight": "tv_weight",
}


def add_loss_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("loss (defaults come from the preset)")
    g.add_argument("--loss-net", help="loss network: vgg19 (default, bundled weights), "
                   "vgg19-torchvision, vgg16-torchvision, densenet121")
    g.add_argument("--loss-net-weights", metavar="FILE",
                   help="weights file for the loss network (safetensors or a torch state dict)")
    g.add_argument("--download", action="store_true",
                   help="allow downloading torchvision ImageNet weights (needs internet)")
    g.add_argument("--pooling", choices=("max", "avg"), help="pooling in the loss network")
    g.add_argument("--content-layers", type=name_list, metavar="L1,L2",
                   help="content layers, e.g. relu4_2")
    g.add_argument("--style-layers", type=name_list, metavar="L1,L2,...",
                   help="style layers, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1")
    g.add_argument("--style-layer-weights", type=float_list, metavar="W1,W2,...",
                   help="one weight per style layer (default: equal)")
    g.add_argument("--content-weight", type=nonneg_float, metavar="W", help="content weight")
    g.add_argument("--style-weight", type=nonneg_float, metavar="W", help="style weight")
    g.add_argument("--tv-weight", type=nonneg_float, metavar="W", help="total variation weight")


def loss_updates(args: argparse.Namespace, prefix: str = "loss.") -> dict[str, object]:
    """The loss settings given explicitly on the command line, as dotted config keys."""
    return {prefix + key: getattr(args, dest) for dest, key in LOSS_FLAGS.items()
            if getattr(args, dest, None) is not None}
