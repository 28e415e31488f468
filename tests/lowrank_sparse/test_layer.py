import pytest
import torch
from lowrank_sparse import LoSparseLinear
from torch import nn
from transformers.pytorch_utils import Conv1D


def _linear(d_in=24, d_out=40, bias=True, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(d_in, d_out, bias=bias)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("direction", ["row", "col"])
def test_replacement_preserves_output(bias, direction):
    base = _linear(bias=bias)
    layer = LoSparseLinear.from_linear(base, rank=5, direction=direction)
    x = torch.randn(2, 3, 24)
    torch.testing.assert_close(layer(x), base(x), atol=1e-5, rtol=1e-5)
    assert layer.left.shape == (40, 5) and layer.right.shape == (5, 24)
    # L and R are the sqrt(Sigma) split of the top-5 SVD.
    s = torch.linalg.svdvals(base.weight.detach())[:5]
    torch.testing.assert_close(torch.linalg.svdvals(layer.left @ layer.right)[:5], s)
    torch.testing.assert_close(layer.left.norm(dim=0) ** 2, s, rtol=1e-4, atol=1e-5)


def test_conv1d_replacement():
    base = Conv1D(40, 24)
    nn.init.normal_(base.weight)
    layer = LoSparseLinear.from_linear(base, rank=3)
    x = torch.randn(4, 24)
    torch.testing.assert_close(layer(x), base(x), atol=1e-4, rtol=1e-4)
    dense = layer.to_dense()
    assert isinstance(dense, Conv1D)
    torch.testing.assert_close(dense(x), base(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("direction", ["row", "col"])
@pytest.mark.parametrize("rank", [0, 4])
def test_compact_matches_masked_training_form_on_any_shape(direction, rank):
    layer = LoSparseLinear.from_linear(_linear(), rank=rank, direction=direction)
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(layer.num_units, generator=g) < 0.3
    layer.set_keep_mask(mask)
    before = {s: layer(torch.randn(*s, 24, generator=g.manual_seed(2))) for s in [(1,), (3, 5)]}
    layer.compact()
    assert layer.compacted and layer.num_kept() == int(mask.sum())
    for shape, expected in before.items():
        # a new batch/sequence shape after another must work (no cached buffer)
        x = torch.randn(*shape, 24, generator=g.manual_seed(2))
        torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)
    unit = 24 if direction == "row" else 40
    assert layer.matrix_params() == rank * 64 + int(mask.sum()) * unit


def test_compact_fused_storage_and_gradients():
    layer = LoSparseLinear.from_linear(_linear(), rank=4)
    layer.set_keep_mask(torch.arange(40) % 4 == 0)
    layer.compact()
    assert layer.fused.shape == (4 + 10, 24) and layer.right is None and layer.sparse is None
    layer(torch.randn(2, 24)).sum().backward()
    assert layer.fused.grad is not None and layer.left.grad is not None


def test_mask_zeroes_units():
    layer = LoSparseLinear.from_linear(_linear(), rank=2)
    mask = torch.zeros(40, dtype=torch.bool)
    mask[:7] = True
    layer.set_keep_mask(mask)
    assert torch.all(layer.sparse[7:] == 0) and torch.all(layer.sparse[:7].abs().sum(1) > 0)


def test_low_rank_only_layer():
    layer = LoSparseLinear.from_linear(_linear(), rank=6, has_sparse=False)
    assert layer.sparse is None and layer.num_kept() == 0
    x = torch.randn(5, 24)
    torch.testing.assert_close(layer(x), nn.functional.linear(x, layer.dense_weight(), layer.bias))


@pytest.mark.parametrize("rank", [24, 30, -1])
def test_bad_rank(rank):
    with pytest.raises(ValueError, match="rank"):
        LoSparseLinear.from_linear(_linear(), rank=rank)


def test_non_float_weight():
    base = _linear()
    base.weight = nn.Parameter(base.weight.detach().to(torch.int32), requires_grad=False)
    with pytest.raises(ValueError, match="dtype"):
        LoSparseLinear.from_linear(base, rank=2)
