"""MultiheadAttention and the Transformer layers against PyTorch (eval mode), with masks, norm_first and init."""
import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _copy(ours, theirs):
    ours.load_state_dict({k: framework.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _close(ours, theirs, tol=1e-6):
    assert (ours is None) == (theirs is None)
    if ours is not None:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _pair(cls, *args, **kwargs):
    theirs = getattr(torch.nn, cls)(*args, **kwargs).double().eval()
    ours = getattr(framework.nn, cls)(*args, **kwargs).double().eval()
    _copy(ours, theirs)
    return ours, theirs


def _both(array, grad=False):
    return framework.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _masks(length, source, batch, heads):
    rng = np.random.default_rng(1)
    blocked = rng.standard_normal((length, source)) > 0.5
    blocked[:, 0] = False  # every query keeps one key
    padding = np.zeros((batch, source), bool)
    padding[1, source - 2:] = True
    return [{}, {"attn_mask": blocked}, {"key_padding_mask": padding},
            {"attn_mask": blocked, "key_padding_mask": padding, "need_weights": False},
            {"attn_mask": rng.standard_normal((batch * heads, length, source)), "average_attn_weights": False},
            {"attn_mask": -np.triu(np.full((length, source), np.inf), 1), "is_causal": True}]


MHA_CONFIGS = [{}, {"add_bias_kv": True}, {"add_zero_attn": True}, {"kdim": 3, "vdim": 5}, {"bias": False},
               {"batch_first": True}, {"dropout": 0.5}]


@pytest.mark.parametrize("config", MHA_CONFIGS, ids=[str(c) for c in MHA_CONFIGS])
def test_multihead_attention_matches_torch(config):
    ours, theirs = _pair("MultiheadAttention", 8, 2, **config)
    length, source, batch = 4, 6, 3
    q, k, v = _rand(length, batch, 8), _rand(source, batch, config.get("kdim", 8), seed=1), \
        _rand(source, batch, config.get("vdim", 8), seed=2)
    if config.get("batch_first"):
        q, k, v = (a.transpose(1, 0, 2).copy() for a in (q, k, v))
    for extra in _masks(length, source, batch, 2):
        fq, tq = _both(q, grad=True)
        fargs = {n: framework.tensor(a) if isinstance(a, np.ndarray) else a for n, a in extra.items()}
        targs = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in extra.items()}
        fo, fw = ours(fq, framework.tensor(k), framework.tensor(v), **fargs)
        to, tw = theirs(tq, torch.tensor(k), torch.tensor(v), **targs)
        _close(fo, to)
        _close(fw, tw)
        fo.sum().backward()
        to.sum().backward()
        _close(fq.grad, tq.grad)
        for a, b in zip(ours.parameters(), theirs.parameters()):
            _close(a.grad, b.grad)


def test_multihead_self_attention_unbatched_and_init():
    ours, theirs = _pair("MultiheadAttention", 8, 4)
    x = _rand(5, 8)
    fx, tx = _both(x)
    for a, b in zip(ours(fx, fx, fx), theirs(tx, tx, tx)):
        _close(a, b)
    framework.manual_seed(0)
    ours = framework.nn.MultiheadAttention(8, 2, add_bias_kv=True)
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for a, b in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert repr(ours) == repr(theirs)


def test_multihead_attention_errors():
    with pytest.raises(AssertionError, match="divisible"):
        framework.nn.MultiheadAttention(8, 3)
    mha = framework.nn.MultiheadAttention(8, 2)
    x = framework.zeros(4, 2, 8)
    with pytest.raises(RuntimeError, match="should be"):
        mha(x, x, x, attn_mask=framework.zeros(3, 3))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)


LAYER_CONFIGS = [{}, {"norm_first": True}, {"activation": "gelu", "batch_first": True}, {"bias": False},
                 {"activation": torch.nn.functional.silu if torch else None, "layer_norm_eps": 1e-3}]


def _activation(config):
    if config.get("activation") is torch.nn.functional.silu:
        return dict(config, activation=framework.nn.functional.silu)
    return config


@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=["post", "norm_first", "gelu_batch_first", "no_bias", "silu"])
def test_encoder_and_decoder_layers(config):
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, **config).double().eval()
    ours = framework.nn.TransformerEncoderLayer(8, 2, 16, **_activation(config)).double().eval()
    _copy(ours, theirs)
    x, memory, tgt = _rand(5, 3, 8), _rand(5, 3, 8, seed=1), _rand(4, 3, 8, seed=2)
    if config.get("batch_first"):
        x, memory, tgt = (a.transpose(1, 0, 2).copy() for a in (x, memory, tgt))
    padding = np.zeros((3, 5), bool)
    padding[0, 3:] = True
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5).double()
    ours_causal = framework.nn.Transformer.generate_square_subsequent_mask(5, dtype=framework.float64)
    _close(ours_causal, causal)
    fx, tx = _both(x, grad=True)
    fo = ours(fx, src_mask=ours_causal, src_key_padding_mask=framework.tensor(padding))
    to = theirs(tx, src_mask=causal, src_key_padding_mask=torch.tensor(padding).double().masked_fill(
        torch.tensor(padding), float("-inf")))
    _close(fo, to)
    fo.sum().backward()
    to.sum().backward()
    _close(fx.grad, tx.grad)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16, **config).double().eval()
    ours = framework.nn.TransformerDecoderLayer(8, 2, 16, **_activation(config)).double().eval()
    _copy(ours, theirs)
    fo = ours(framework.tensor(tgt), framework.tensor(memory), tgt_mask=ours_causal[:4, :4],
              memory_key_padding_mask=framework.tensor(padding))
    to = theirs(torch.tensor(tgt), torch.tensor(memory), tgt_mask=causal[:4, :4],
                memory_key_padding_mask=torch.tensor(padding))
    _close(fo, to)


def test_transformer_stack_and_init():
    framework.manual_seed(0)
    ours = framework.nn.Transformer(8, 2, 2, 2, 16)
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for a, b in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    ours, theirs = ours.double().eval(), theirs.double().eval()
    src, tgt = _rand(5, 3, 8), _rand(4, 3, 8, seed=1)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4).double()
    _close(ours(framework.tensor(src), framework.tensor(tgt), tgt_mask=framework.tensor(mask.numpy())),
           theirs(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask))
    with pytest.raises(RuntimeError, match="batch number"):
        ours(framework.tensor(src), framework.tensor(tgt[:, :2]))


def test_transformer_encoder_with_norm():
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                         norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).eval()
    ours = framework.nn.TransformerEncoder(framework.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                           norm=framework.nn.LayerNorm(8)).eval()
    _copy(ours, theirs)
    x = _rand(3, 5, 8).astype(np.float32)
    _close(ours(framework.tensor(x)), theirs(torch.tensor(x)), 1e-5)
    ours.train()
    framework.manual_seed(0)
    out = ours(framework.tensor(x))
    assert out.shape == (3, 5, 8) and out.requires_grad


@pytest.mark.parametrize("cls", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
def test_training_dropout_draws_torch_masks(cls):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(8, 2, 16, dropout=0.3)
    ours = getattr(framework.nn, cls)(8, 2, 16, dropout=0.3)
    _copy(ours, theirs)
    x = _rand(4, 3, 8).astype(np.float32)
    args = (x,) if cls == "TransformerEncoderLayer" else (x, x)
    torch.manual_seed(1)
    framework.manual_seed(1)
    _close(ours(*(framework.tensor(a) for a in args)), theirs(*(torch.tensor(a) for a in args)), 1e-5)


def test_functional_multi_head_attention_forward():
    from framework.nn.modules.attention import multi_head_attention_forward
    rng = np.random.default_rng(3)
    length, source, batch, embed, heads = 3, 4, 2, 6, 2
    q, k, v = rng.standard_normal((length, batch, embed)), rng.standard_normal((source, batch, embed)), \
        rng.standard_normal((source, batch, embed))
    weights = [rng.standard_normal((embed, embed)) for _ in range(3)]
    in_bias, out_w, out_b = rng.standard_normal(3 * embed), rng.standard_normal((embed, embed)), \
        rng.standard_normal(embed)
    static_k = rng.standard_normal((batch * heads, source, embed // heads))

    def run(lib, fn):
        t = lib.tensor
        return fn(t(q), t(k), t(v), embed, heads, None, t(in_bias), None, None, True, 0.0, t(out_w), t(out_b),
                  training=False, use_separate_proj_weight=True, q_proj_weight=t(weights[0]),
                  k_proj_weight=t(weights[1]), v_proj_weight=t(weights[2]), static_k=t(static_k),
                  average_attn_weights=False)
    for a, b in zip(run(framework, multi_head_attention_forward),
                    run(torch, torch.nn.functional.multi_head_attention_forward)):
        _close(a, b)
