"""The fast path's choice of precision, and bf16 training losses against float32 ones."""

from __future__ import annotations

import pytest
import torch

from rtstyle import assets, frames, images
from rtstyle.errors import ConfigError
from rtstyle.train import precision, trainer
from rtstyle.train.loss_networks import load_loss_network
from rtstyle.train.losses import PerceptualLoss
from rtstyle.train.transformer_net import NETS, TransformerNet

CPU = torch.device("cpu")


@pytest.mark.parametrize("flags, native", [({"avx512f", "amx_bf16", "avx512_bf16"}, "AMX-BF16"),
                                           ({"avx512f", "avx512_bf16"}, "AVX512-BF16"),
                                           ({"avx512f", "avx2"}, "")])
def test_auto_is_bf16_and_channels_last_only_with_native_bf16(flags, native):
    p = precision.resolve("auto", None, CPU, flags)
    assert precision.native_bf16(CPU, flags) == native
    assert (p.amp, p.channels_last, p.dtype) == (("bf16", True, torch.bfloat16) if native
                                                 else ("off", False, None))
    assert (native or "no native bf16") in p.describe()


def test_explicit_choices_win_over_the_hardware():
    amx = {"amx_bf16"}
    assert precision.resolve("off", None, CPU, amx) == precision.Precision("off", False, "asked for")
    assert precision.resolve("auto", False, CPU, amx).channels_last is False
    assert precision.resolve("bf16", None, CPU, set()).amp == "bf16"  # emulated, but asked for
    assert precision.resolve("off", True, CPU, amx).channels_last is True


def test_fp16_and_unknown_modes_are_refused_on_the_cpu():
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        precision.resolve("fp16", None, CPU, set())
    with pytest.raises(ConfigError, match="amp must be one of"):
        precision.resolve("fast", None, CPU, set())


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx512f amx_bf16\n")
    assert precision.cpu_flags(info) == {"fpu", "avx512f", "amx_bf16"}
    assert precision.cpu_flags(tmp_path / "missing") == set()


def test_the_default_config_asks_for_auto():
    cfg = trainer.TrainConfig()
    assert cfg.amp == "auto" and cfg.channels_last is None and cfg.cache_photos


def _losses(net, loss, x, amp: str, channels_last: bool) -> dict[str, float]:
    p = precision.Precision(amp, channels_last)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return trainer.forward_losses(net, loss, x, p.dtype).as_floats()


def test_bf16_channels_last_losses_are_within_two_percent_of_float32():
    torch.manual_seed(0)
    net = TransformerNet(NETS["tiny"]).train()
    cfg = trainer.TrainConfig()
    loss = PerceptualLoss(cfg.loss, load_loss_network("vgg19", CPU))
    style = images.read_image(assets.path(assets.DEMO_STYLE), max_side=48)
    loss.set_styles([torch.from_numpy(frames.to_model_input(style))])
    photo = images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT)), (48, 48))
    x = torch.from_numpy(frames.to_model_input(photo))
    ref = _losses(net, loss, x, "off", False)
    fast = _losses(net, loss, x, "bf16", True)
    for term in ("content", "style", "total"):
        assert fast[term] == pytest.approx(ref[term], rel=0.02), term


def test_bf16_loss_keeps_the_trained_net_in_float32():
    p = precision.resolve("bf16-loss", None, CPU, set())
    assert (p.amp, p.net_amp, p.net_dtype, p.dtype) == ("bf16", False, None, torch.bfloat16)
    assert p.describe().startswith("bf16 autocast in the loss network only, channels-last")
    torch.manual_seed(0)
    net = TransformerNet(NETS["tiny"])
    x = torch.rand(1, 3, 32, 32) * 255
    loss = PerceptualLoss(trainer.TrainConfig().loss, load_loss_network("vgg19", CPU))
    loss.set_styles([x.flip(-1)])
    seen = []
    net.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    trainer.forward_losses(net, loss, x, p.dtype, p.net_amp)
    trainer.forward_losses(net, loss, x, p.dtype, True)
    assert seen == [torch.float32, torch.bfloat16]
