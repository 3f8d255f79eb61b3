"""Conditional instance norm (rtstyle.train.multistyle_net) on tiny nets and tensors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rtstyle.train import multistyle_net as msn  # noqa: E402
from rtstyle.train.transformer_net import NETS, TransformerNet  # noqa: E402


def x(n=2, h=16, w=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=g) * 255


def randomised(multi: msn.MultiStyleNet, seed=1) -> msn.MultiStyleNet:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in multi.norms():
            m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
            m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
    return multi.eval()


@pytest.mark.parametrize("size", ["tiny", "lite", "full"])
def test_one_style_equals_the_plain_net_with_the_same_gamma_and_beta(size):
    torch.manual_seed(0)
    plain = TransformerNet(NETS[size]).eval()
    with torch.no_grad():
        for m in plain.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    multi = msn.from_single(plain, 1).eval()
    with torch.no_grad():
        torch.testing.assert_close(multi(x(), msn.one_hot(0, 1)), plain(x()), atol=2e-4,
                                   rtol=1e-5)


@pytest.mark.parametrize("net", ["tiny", "tiny-aa"])
def test_a_one_hot_vector_is_exactly_that_style_and_blends_mix_the_rows(net):
    torch.manual_seed(0)
    multi = randomised(msn.MultiStyleNet(NETS[net], 3))
    with torch.no_grad():
        for i in range(3):
            single = msn.to_single(multi, msn.one_hot(i, 3)[0]).eval()
            torch.testing.assert_close(multi(x(), msn.one_hot(i, 3)), single(x()), atol=2e-4,
                                       rtol=1e-5)
        w = torch.tensor([[0.7, 0.3, 0.0]])
        blend = msn.to_single(multi, w[0]).eval()
        torch.testing.assert_close(multi(x(), w), blend(x()), atol=2e-4, rtol=1e-5)
        # the blend's parameters are the rows' mix, exactly
        for p_mix, p0, p1 in zip(blend.state_dict().values(),
                                 msn.to_single(multi, msn.one_hot(0, 3)[0]).state_dict().values(),
                                 msn.to_single(multi, msn.one_hot(1, 3)[0]).state_dict().values()):
            torch.testing.assert_close(p_mix, 0.7 * p0 + 0.3 * p1)
        assert not torch.allclose(multi(x(), msn.one_hot(0, 3)), multi(x(), msn.one_hot(1, 3)))


def test_each_image_of_a_batch_can_have_its_own_weights():
    multi = randomised(msn.MultiStyleNet(NETS["tiny"], 2))
    batch = x(n=2)
    w = torch.tensor([[1.0, 0.0], [0.2, 0.8]])
    with torch.no_grad():
        both = multi(batch, w)
        torch.testing.assert_close(both[:1], multi(batch[:1], w[:1]), atol=2e-4, rtol=1e-5)
        torch.testing.assert_close(both[1:], multi(batch[1:], w[1:]), atol=2e-4, rtol=1e-5)


def test_one_more_style_leaves_every_other_weight_bit_identical():
    multi = randomised(msn.MultiStyleNet(NETS["tiny"], 2))
    bigger = msn.with_one_more_style(multi, init=1)
    assert bigger.n_styles == 3
    old, new = multi.state_dict(), bigger.state_dict()
    assert old.keys() == new.keys()
    for k, v in old.items():
        if v.ndim == 2 and v.shape[0] == 2:  # a CIN row table: old rows kept, the new one copied
            assert torch.equal(new[k][:2], v) and torch.equal(new[k][2], v[1])
        else:
            assert torch.equal(new[k], v), k
    mean = msn.with_one_more_style(multi)
    for m in mean.norms():
        torch.testing.assert_close(m.weight[2], m.weight[:2].mean(0))


@pytest.mark.parametrize("shape", [(1, 3), (3, 2), (2,)])
def test_style_weights_of_the_wrong_shape_are_refused(shape):
    multi = msn.MultiStyleNet(NETS["tiny"], 2)
    with pytest.raises(ValueError, match="style weights must be"):
        multi(x(n=2), torch.ones(shape))


def test_a_net_needs_a_style():
    from rtstyle.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one style"):
        msn.MultiStyleNet(NETS["tiny"], 0)
