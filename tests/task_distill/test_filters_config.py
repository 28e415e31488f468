import json

import pytest
import torch
from task_distill import FilterConfig, TaskAwareFilters, TEDConfig


def _states(batch=2, seq=5, width=16, layers=3):
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(batch, seq, width, generator=g) for _ in range(layers + 1))


def test_filters_shapes_heads_and_loss():
    f = TaskAwareFilters(FilterConfig(hidden_size=16, layers=[1, 3], output_dim=24, num_labels=3))
    out = f(_states())
    assert [o.shape for o in out] == [(2, 5, 24), (2, 5, 24)]
    logits = f.head_logits(out)
    assert [x.shape for x in logits] == [(2, 3), (2, 3)]
    loss = f.task_loss(out, torch.tensor([0, 2]))
    assert loss.ndim == 0 and loss > 0


def test_filters_causal_lm_heads():
    f = TaskAwareFilters(FilterConfig(hidden_size=16, layers=[2], task="causal_lm", vocab_size=11))
    out = f(_states())
    assert f.head_logits(out)[0].shape == (2, 5, 11)
    assert f.config.output_dim == 16  # default d_f = own hidden size


def test_filters_save_load_identical(tmp_path):
    f = TaskAwareFilters(FilterConfig(hidden_size=16, layers=[1, 2], nonlinear=True)).eval()
    f.save_pretrained(tmp_path)
    g = TaskAwareFilters.from_pretrained(tmp_path).eval()
    assert g.config == f.config
    states = _states()
    for a, b in zip(f(states), g(states), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(f.head_logits(f(states))[0], g.head_logits(g(states))[0])


def test_drop_heads_keeps_filters():
    f = TaskAwareFilters(FilterConfig(hidden_size=16, layers=[1]))
    before = f(_states())[0]
    f.drop_heads()
    assert not len(f.heads) and not f.config.with_heads
    assert torch.equal(before, f(_states())[0])
    with pytest.raises(ValueError, match="no heads"):
        f.head_logits([before])


def test_filters_need_hidden_states():
    f = TaskAwareFilters(FilterConfig(hidden_size=16, layers=[5]))
    with pytest.raises(ValueError, match="output_hidden_states=True"):
        f(None)
    with pytest.raises(ValueError, match="filters use layer 5 but the model returned 3"):
        f(_states())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": [0]}, "layers"),
        ({"task": "qa"}, "task"),
        ({"task": "causal_lm", "vocab_size": None}, "vocab_size"),
        ({"hidden_size": 0}, "hidden_size"),
    ],
)
def test_filter_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FilterConfig(**kwargs)


def test_ted_config_round_trip_and_errors(tmp_path):
    cfg = TEDConfig(output_dir=str(tmp_path), layer_mapping=[(1, 2), (2, 4)], kl_alpha=5.0)
    assert cfg.layer_mapping == "1:2,2:4"
    assert cfg.label_names == ["labels"]
    fields = cfg.ted_fields()
    assert fields["kl_alpha"] == 5.0 and fields["temperature"] == 2.0
    assert fields["mask_padding"] is True
    # Default changed by issue 12: a normalised layer term with weight 1 (official: raw, 100).
    assert json.loads(json.dumps(cfg.to_dict()))["mse_alpha"] == 1.0
    assert fields["layer_loss_scale"] == "teacher"
    for bad, match in [
        ({"kl_alpha": -1.0}, "kl_alpha=-1.0 is invalid"),
        ({"temperature": 0.0}, "temperature"),
        ({"filter_output_dim": 0}, "filter_output_dim"),
        ({"layer_mapping": "1-2"}, "student:teacher"),
        ({"task": "qa"}, "task"),
        ({"filter_activation": "nope"}, "filter_activation"),
    ]:
        with pytest.raises(ValueError, match=match):
            TEDConfig(output_dir=str(tmp_path), **bad)
