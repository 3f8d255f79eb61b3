"""The image transformer net: shapes, padding, architecture, cost model, (de)serialisable config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rtstyle.errors import ConfigError
from rtstyle.train.transformer_net import (
    NETS, SIZE_MULTIPLE, Blur, NetConfig, ResidualBlock, TransformerNet, build, count_parameters,
    describe, net_config)


@pytest.fixture(scope="module")
def full_net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(NETS["full"]).eval()


@pytest.fixture(scope="module")
def tiny_net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(NETS["tiny"]).eval()


def images(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 255


# --- shapes and padding -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 33, 47), (2, 3, 17, 64), (1, 3, 64, 17),
                                   (2, 3, 35, 35), (1, 3, 32, 32)])
def test_padded_output_has_the_input_shape(full_net, shape):
    with torch.no_grad():
        y = full_net(images(*shape))
    assert tuple(y.shape) == shape
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


def test_padding_only_crops_back_the_added_border(tiny_net):
    """A non-multiple input is padded bottom/right: the result is the top-left of a bigger run."""
    x = images(1, 3, 30, 42)
    with torch.no_grad():
        y = tiny_net(x)
        # The same image already padded by the net's own rule (reflect to 32x44), run unpadded.
        padded = torch.nn.functional.pad(x, (0, 2, 0, 2), mode="reflect")
        y_full = tiny_net(padded, pad=False)
    assert torch.equal(y, y_full[..., :30, :42])


@pytest.mark.parametrize("hw", [(33, 32), (32, 47), (18, 18)])
def test_unpadded_net_rejects_sizes_that_are_not_multiples_of_4(tiny_net, hw):
    with pytest.raises(ValueError, match="multiples of 4"):
        tiny_net(images(1, 3, *hw), pad=False)


def test_unpadded_net_accepts_multiples_of_4(tiny_net):
    with torch.no_grad():
        assert tiny_net(images(2, 3, 32, 48), pad=False).shape == (2, 3, 32, 48)
    assert SIZE_MULTIPLE == 4


@pytest.mark.parametrize("shape", [(1, 1, 32, 32), (3, 32, 32), (1, 4, 32, 32)])
def test_rejects_tensors_that_are_not_rgb_batches(tiny_net, shape):
    with pytest.raises(ValueError, match="RGB"):
        tiny_net(torch.zeros(shape))


@pytest.mark.parametrize("hw", [(2, 9), (4, 4)])
def test_very_small_inputs_work_as_documented(tiny_net, hw):
    with torch.no_grad():
        assert tiny_net(images(1, 3, *hw)).shape == (1, 3, *hw)


# --- output range -------------------------------------------------------------------------------

def test_eval_output_is_clamped_but_training_output_is_not():
    torch.manual_seed(1)
    net = TransformerNet(NETS["tiny"])
    # Push the output far outside 0..255 by scaling the final convolution.
    with torch.no_grad():
        last = net.decoder[-1][1]
        last.weight.mul_(50.0)
        last.bias.fill_(3.0)
    x = images(1, 3, 32, 32)
    net.train()
    with torch.no_grad():
        raw = net(x)
    assert raw.max() > 255 or raw.min() < 0, "the test needs an out-of-range raw output"
    net.eval()
    with torch.no_grad():
        out = net(x)
    assert out.min() >= 0 and out.max() <= 255
    # Training (instance norm uses batch statistics in both modes) differs only by the clamp.
    assert torch.equal(out, raw.clamp(0, 255))


def test_default_eval_output_is_within_0_255(full_net):
    with torch.no_grad():
        y = full_net(images(2, 3, 33, 47, seed=3))
    assert y.min() >= 0 and y.max() <= 255
    assert y.std() > 0  # not a constant image


# --- architecture -------------------------------------------------------------------------------

def _convs(net: nn.Module) -> list[nn.Conv2d]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d)]


def test_full_net_has_johnson_widths_and_five_residual_blocks(full_net):
    encoder_convs = _convs(full_net.encoder)
    assert [c.out_channels for c in encoder_convs] == [32, 64, 128]
    assert [c.stride for c in encoder_convs] == [(1, 1), (2, 2), (2, 2)]
    assert encoder_convs[0].kernel_size == (9, 9) and encoder_convs[0].in_channels == 3
    blocks = [m for m in full_net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 5
    for b in blocks:
        assert [(c.in_channels, c.out_channels) for c in _convs(b)] == [(128, 128), (128, 128)]
    decoder_convs = _convs(full_net.decoder)
    assert [(c.in_channels, c.out_channels) for c in decoder_convs] == [(128, 64), (64, 32),
                                                                        (32, 3)]
    assert decoder_convs[-1].kernel_size == (9, 9)
    assert len(_convs(full_net)) == 3 + 2 * 5 + 3


def test_no_transposed_convolutions_only_nearest_upsampling(full_net):
    kinds = {type(m) for m in full_net.modules()}
    assert not kinds & {nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d}
    ups = [m for m in full_net.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == 2
    assert all(u.mode == "nearest" and u.scale_factor == 2 for u in ups)


def test_every_convolution_is_reflection_padded(full_net):
    """Each Conv2d has no zero padding of its own and follows a matching ReflectionPad2d."""
    pairs = 0
    for m in full_net.modules():
        children = list(m.children())
        for prev, cur in zip(children, children[1:]):
            if isinstance(cur, nn.Conv2d):
                assert isinstance(prev, nn.ReflectionPad2d)
                assert prev.padding == (cur.kernel_size[0] // 2,) * 4
                pairs += 1
    convs = _convs(full_net)
    assert pairs == len(convs)
    assert all(c.padding == (0, 0) for c in convs)
    assert not any(isinstance(m, nn.ZeroPad2d) for m in full_net.modules())


def test_instance_norm_is_affine_after_every_inner_convolution(full_net):
    norms = [m for m in full_net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == len(_convs(full_net)) - 1  # all but the output convolution
    assert all(n.affine for n in norms)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in full_net.modules())


# --- cost model ---------------------------------------------------------------------------------

def test_full_net_macs_per_pixel_by_hand():
    """Johnson et al.'s net, counted from the architecture description (per input pixel)."""
    first = 9 * 9 * 3 * 32                # 9x9, 3->32, full resolution
    down1 = 3 * 3 * 32 * 64 / 4           # 3x3 stride 2, output at 1/4 of the pixels
    down2 = 3 * 3 * 64 * 128 / 16         # 3x3 stride 2, output at 1/16
    res = 5 * 2 * 3 * 3 * 128 * 128 / 16  # 5 blocks of two 3x3 128->128 at 1/16
    up1 = 3 * 3 * 128 * 64 / 4            # upsample to 1/4, 3x3 128->64
    up2 = 3 * 3 * 64 * 32                 # upsample to full, 3x3 64->32
    out = 9 * 9 * 32 * 3                  # 9x9, 32->3
    expected = first + down1 + down2 + res + up1 + up2 + out
    assert expected == 153792
    assert NetConfig().macs_per_pixel() == pytest.approx(expected)
    assert NETS["full"].macs_per_pixel() == pytest.approx(expected)


@pytest.mark.parametrize("name", ["full", "lite", "tiny", "full-aa", "lite-aa", "tiny-aa"])
def test_macs_per_pixel_matches_a_count_of_the_real_convolutions(name):
    """Hooks on every Conv2d (and anti-aliasing blur) of a real forward pass count
    multiply-accumulates exactly."""
    net = TransformerNet(NETS[name]).eval()
    total = 0

    def count(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        total += output.shape[-2] * output.shape[-1] * module.in_channels * module.out_channels * k

    def count_blur(module, inputs, output):
        nonlocal total
        total += output.shape[-3] * output.shape[-2] * output.shape[-1] * 9

    hooks = [c.register_forward_hook(count) for c in _convs(net)]
    hooks += [b.register_forward_hook(count_blur) for b in net.modules() if isinstance(b, Blur)]
    h, w = 32, 48
    with torch.no_grad():
        net(torch.zeros(1, 3, h, w), pad=False)
    for hook in hooks:
        hook.remove()
    assert total / (h * w) == pytest.approx(NETS[name].macs_per_pixel())


def test_lite_net_costs_about_an_eighth_of_the_full_net():
    ratio = NETS["lite"].macs_per_pixel() / NETS["full"].macs_per_pixel()
    assert 1 / 10 < ratio < 1 / 6
    assert count_parameters(TransformerNet(NETS["lite"])) < count_parameters(
        TransformerNet(NETS["full"])) / 5


def test_named_nets():
    assert net_config("full") == NetConfig((32, 64, 128), 5, 9)
    assert net_config("lite").blocks == 3
    with pytest.raises(ConfigError, match="did you mean 'lite'"):
        net_config("lit")


# --- config validation and rebuild --------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"widths": (32, 64)}, {"widths": (32, 64, 128, 256)}, {"widths": (32, 0, 128)},
    {"widths": (32, -4, 128)}, {"blocks": -1}, {"outer_kernel": 8}, {"outer_kernel": 0},
    {"outer_kernel": -3},
])
def test_net_config_rejects_bad_values(kwargs):
    with pytest.raises(ConfigError):
        NetConfig(**kwargs)


def test_net_config_accepts_zero_residual_blocks():
    net = TransformerNet(NetConfig((4, 4, 4), 0, 3)).eval()
    with torch.no_grad():
        assert net(images(1, 3, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("name", ["full", "lite", "tiny", "lite-aa", "tiny-aa"])
def test_build_from_describe_gives_the_same_architecture(name):
    cfg = NETS[name]
    d = describe(cfg)
    assert d == {"widths": list(cfg.widths), "blocks": cfg.blocks,
                 "outer_kernel": cfg.outer_kernel,
                 **({"antialias": True} if cfg.antialias else {})}
    original = TransformerNet(cfg).state_dict()
    rebuilt = build(d)
    assert rebuilt.config == cfg
    rebuilt_state = rebuilt.state_dict()
    assert set(rebuilt_state) == set(original)
    assert {k: v.shape for k, v in rebuilt_state.items()} == {k: v.shape
                                                             for k, v in original.items()}
    rebuilt.load_state_dict(original)  # strict: also proves the key sets match


def test_build_accepts_a_config_and_defaults_the_outer_kernel():
    assert build(NETS["tiny"]).config == NETS["tiny"]
    assert build({"widths": [4, 8, 8], "blocks": 1}).config.outer_kernel == 9
    assert build({"widths": [4, 8, 8], "blocks": 1}).config.antialias is False


# --- anti-aliased resampling (--net lite-aa, full-aa) -------------------------------------------

def test_antialiased_nets_have_the_same_weights_as_their_plain_twins():
    for plain, aa in [("lite", "lite-aa"), ("full", "full-aa")]:
        a, b = TransformerNet(NETS[plain]).state_dict(), TransformerNet(NETS[aa]).state_dict()
        assert sorted(v.shape for v in a.values()) == sorted(v.shape for v in b.values())
        assert not any("kernel" in k for k in b)  # the blur is a constant, not a weight
    assert 1.1 < NETS["lite-aa"].macs_per_pixel() / NETS["lite"].macs_per_pixel() < 1.3


@pytest.mark.parametrize("hw", [(8, 8), (36, 52), (33, 47)])
def test_antialiased_net_keeps_any_size(hw):
    net = TransformerNet(NETS["tiny-aa"]).eval()
    with torch.no_grad():
        assert net(images(2, 3, *hw)).shape == (2, 3, *hw)


def test_blur_is_a_normalised_low_pass_that_subsamples():
    x = torch.rand(1, 2, 16, 20)
    flat = torch.full((1, 2, 16, 20), 7.0)
    assert torch.allclose(Blur(2)(flat), flat)                      # DC gain 1
    assert Blur(2, stride=2)(x).shape == (1, 2, 8, 10)
    checker = (torch.arange(16)[:, None] + torch.arange(20)[None, :]) % 2 * 2.0 - 1.0
    inner = Blur(1)(checker[None, None])[..., 1:-1, 1:-1]
    assert inner.abs().max() < 1e-6                                 # Nyquist removed


def test_blurred_subsampling_moves_less_than_plain_subsampling_under_a_1px_shift():
    """What the anti-aliasing is for: a 1 px shift of the input changes a strided map much
    less after a blur (Zhang 2019)."""
    torch.manual_seed(0)
    x = torch.rand(1, 1, 64, 66) * 2 - 1
    a, b = x[..., :, :64], x[..., :, 1:65]                          # b = a moved 1 px left
    plain = (a[..., ::2, ::2] - b[..., ::2, ::2]).abs().mean()
    blur = Blur(1, stride=2)
    smooth = (blur(a) - blur(b)).abs().mean()
    assert smooth < 0.6 * plain


def test_build_rejects_a_non_boolean_antialias():
    with pytest.raises(ConfigError, match="antialias"):
        build({"widths": [4, 8, 8], "blocks": 1, "antialias": "yes"})


@pytest.mark.parametrize("bad", [{"blocks": 1}, {"widths": [4, 8, 8]},
                                 {"widths": ["a", 8, 8], "blocks": 1},
                                 {"widths": [4, 8], "blocks": 1},
                                 {"widths": [4, 8, 8], "blocks": 1, "outer_kernel": 4}])
def test_build_rejects_bad_descriptions(bad):
    with pytest.raises(ConfigError):
        build(bad)


# --- training behaviour -------------------------------------------------------------------------

def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = TransformerNet(NETS["tiny"]).train()
    x = images(2, 3, 32, 32)
    target = images(2, 3, 32, 32, seed=1)
    loss = ((net(x) - target) ** 2).mean()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if name.endswith("weight"):  # conv kernels and instance-norm scales
            assert p.grad.abs().sum() > 0, name


def test_channels_last_gives_the_same_result():
    torch.manual_seed(0)
    net = TransformerNet(NETS["lite"]).eval()
    x = images(2, 3, 36, 44, seed=5)
    with torch.no_grad():
        ref = net(x)
        same_net = net(x.contiguous(memory_format=torch.channels_last))
        net_cl = net.to(memory_format=torch.channels_last)
        both = net_cl(x.contiguous(memory_format=torch.channels_last))
    assert ref.shape == both.shape == same_net.shape
    # 1e-4 of the 0..255 output range: different kernels sum in different orders.
    torch.testing.assert_close(same_net, ref, rtol=0, atol=255e-4)
    torch.testing.assert_close(both, ref, rtol=0, atol=255e-4)


def test_batch_items_are_independent(tiny_net):
    """Instance norm: an image's output does not depend on the rest of its batch."""
    a, b = images(1, 3, 33, 47, seed=1), images(1, 3, 33, 47, seed=2)
    with torch.no_grad():
        alone = tiny_net(a)
        batched = tiny_net(torch.cat([a, b]))
    torch.testing.assert_close(batched[:1], alone, rtol=0, atol=1e-3)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name", ["tiny", "tiny-aa"])
def test_gradients_do_not_depend_on_the_memory_format(name, batch):
    """Training runs channels-last by default with mixed precision: the weight gradients must
    be those of a float64 net in either layout (the anti-aliased blur once broke this on the
    CPU for a batch of one)."""
    import copy

    torch.manual_seed(0)
    ref = TransformerNet(NETS[name]).double()
    x = images(batch, 3, 32, 32, seed=3)
    w = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    (ref(x.double()) * w.double()).sum().backward()
    for layout in (torch.contiguous_format, torch.channels_last):
        net = copy.deepcopy(ref).float().to(memory_format=layout)
        net.zero_grad()
        (net(x.contiguous(memory_format=layout)) * w).sum().backward()
        for (key, r), p in zip(ref.named_parameters(), net.parameters()):
            if key.endswith("weight"):  # conv biases before instance norm have ~0 gradients
                torch.testing.assert_close(p.grad.double(), r.grad, rtol=1e-3,
                                           atol=1e-4 * r.grad.abs().max().item())
