"""GPT-2 against a plain torch re-implementation written here with Hugging Face GPT2LMHeadModel's names."""
import math

import numpy as np
import pytest

import framework as fw
from zoo.models import gpt2

torch = pytest.importorskip("torch")
tnn = torch.nn

TINY = dict(vocab_size=50, n_positions=40, n_embd=32, n_layer=2, n_head=4)


# ---- the reference: Hugging Face's GPT2LMHeadModel structure, written out in torch ---------------------------------
class RefConv1D(tnn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.weight = tnn.Parameter(torch.empty(nx, nf))
        self.bias = tnn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return x @ self.weight + self.bias


class RefAttention(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["n_head"]
        self.c_attn = RefConv1D(3 * c["n_embd"], c["n_embd"])
        self.c_proj = RefConv1D(c["n_embd"], c["n_embd"])

    def forward(self, x, additive):
        b, s, h = x.shape
        q, k, v = (t.view(b, s, self.heads, h // self.heads).transpose(1, 2) for t in self.c_attn(x).split(h, 2))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads)
        causal = torch.ones(s, s, dtype=torch.bool).tril()
        scores = torch.where(causal, scores, torch.finfo(torch.float32).min) + additive
        return self.c_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, h))


class RefMLP(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = RefConv1D(4 * c["n_embd"], c["n_embd"])
        self.c_proj = RefConv1D(c["n_embd"], 4 * c["n_embd"])

    def forward(self, x):
        return self.c_proj(tnn.functional.gelu(self.c_fc(x), approximate="tanh"))


class RefBlock(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        self.attn = RefAttention(c)
        self.ln_2 = tnn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        self.mlp = RefMLP(c)

    def forward(self, x, additive):
        x = x + self.attn(self.ln_1(x), additive)
        return x + self.mlp(self.ln_2(x))


class RefTransformer(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = tnn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = tnn.Embedding(c["n_positions"], c["n_embd"])
        self.h = tnn.ModuleList(RefBlock(c) for _ in range(c["n_layer"]))
        self.ln_f = tnn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])


class RefGPT2LMHeadModel(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = RefTransformer(c)
        self.lm_head = tnn.Linear(c["n_embd"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, ids, mask=None):
        t = self.transformer
        if mask is None:
            mask = torch.ones_like(ids)
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = t.wte(ids) + t.wpe(positions)
        for block in t.h:
            x = block(x, additive)
        return self.lm_head(t.ln_f(x))

    def greedy(self, ids, steps):
        for _ in range(steps):
            ids = torch.cat([ids, self(ids)[:, -1].argmax(-1, keepdim=True)], 1)
        return ids


def full_config(**fields):
    return {**gpt2.DEFAULTS, **fields}


def copy_into(reference, ours):
    reference.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in ours.state_dict().items()},
                              strict=True)


@pytest.fixture(scope="module")
def pair():
    fw.manual_seed(0)
    ours = gpt2.GPT2LMHeadModel(TINY).eval()
    with fw.no_grad():
        for p in ours.parameters():  # larger than the 0.02 init, so greedy choices are far from ties
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    reference = RefGPT2LMHeadModel(full_config(**TINY)).eval()
    copy_into(reference, ours)
    return ours, reference


def prompts():
    ids = np.array([[7, 3, 9, 12, 4, 30], [0, 0, 5, 21, 8, 2], [0, 0, 0, 0, 11, 1]])
    mask = (np.arange(6)[None] >= np.array([[0], [2], [4]])).astype(np.int64)
    return ids, mask


def test_state_dict_names_and_shapes_match_hugging_face(pair):
    ours, reference = pair
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert ours.lm_head.weight is ours.transformer.wte.weight


def test_logits_and_loss_match_reference_with_left_padding(pair):
    ours, reference = pair
    ids, mask = prompts()
    positions = fw.tensor((mask.cumsum(-1) - 1) * mask + (1 - mask))
    with fw.no_grad(), torch.no_grad():
        out = ours(fw.tensor(ids), attention_mask=fw.tensor(mask), position_ids=positions, labels=fw.tensor(ids))
        logits = reference(torch.tensor(ids), torch.tensor(mask))
    np.testing.assert_allclose(out.logits.numpy(), logits.numpy(), atol=1e-4, rtol=1e-4)
    expected = tnn.functional.cross_entropy(logits[:, :-1].reshape(-1, TINY["vocab_size"]),
                                            torch.tensor(ids)[:, 1:].reshape(-1))
    assert abs(out.loss.item() - expected.item()) < 1e-4


def test_gradients_match_reference_through_the_tied_head(pair):
    ours, reference = pair
    ids = np.array([[7, 3, 9, 12, 4, 30, 2], [1, 5, 21, 8, 2, 2, 44]])
    ours(fw.tensor(ids), labels=fw.tensor(ids)).loss.backward()
    logits = reference(torch.tensor(ids))
    tnn.functional.cross_entropy(logits[:, :-1].reshape(-1, TINY["vocab_size"]),
                                 torch.tensor(ids)[:, 1:].reshape(-1)).backward()
    theirs = dict(reference.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), atol=1e-4, rtol=1e-3, err_msg=name)
    ours.zero_grad()
    reference.zero_grad()


def test_cached_steps_equal_the_full_forward(pair):
    ours, _ = pair
    ids = fw.tensor([[7, 3, 9, 12, 4, 30, 2, 8]])
    with fw.no_grad():
        full = ours(ids).logits
        first = ours(ids[:, :5])
        second = ours(ids[:, 5:7], past_key_values=first.past_key_values)
        third = ours(ids[:, 7:], past_key_values=second.past_key_values)
    stepped = fw.cat([first.logits, second.logits, third.logits], 1)
    np.testing.assert_allclose(stepped.numpy(), full.numpy(), atol=1e-5)
    assert third.past_key_values[0][0].shape == (1, 4, 8, 8)


def test_greedy_generation_equals_reference_loop(pair):
    ours, reference = pair
    ids = np.array([[7, 3, 9], [1, 5, 21]])
    with torch.no_grad():
        expected = reference.greedy(torch.tensor(ids), 12).numpy()
    assert (ours.generate(fw.tensor(ids), max_new_tokens=12).numpy() == expected).all()
    assert (ours.generate(fw.tensor(ids), max_new_tokens=12, use_cache=False).numpy() == expected).all()


def test_cache_and_recompute_agree_token_for_token(pair):
    ours, _ = pair
    ids, mask = prompts()
    for kwargs in (dict(), dict(do_sample=True, top_k=10, top_p=0.9, temperature=0.8)):
        runs = [ours.generate(fw.tensor(ids), max_new_tokens=10, attention_mask=fw.tensor(mask), use_cache=cache,
                              generator=fw.Generator().manual_seed(3), **kwargs) for cache in (True, False)]
        assert fw.equal(runs[0], runs[1]), kwargs
        assert runs[0].shape == (3, 16)


def test_left_padded_rows_generate_like_unpadded_ones(pair):
    ours, _ = pair
    ids, mask = prompts()
    batched = ours.generate(fw.tensor(ids), max_new_tokens=6, attention_mask=fw.tensor(mask)).numpy()
    for row, start in enumerate((0, 2, 4)):
        alone = ours.generate(fw.tensor(ids[row:row + 1, start:]), max_new_tokens=6).numpy()
        assert (batched[row, 6:] == alone[0, 6 - start:]).all()


def test_stop_tokens_finish_rows_and_pad_them(pair):
    ours, _ = pair
    ids = fw.tensor([[7, 3, 9], [1, 5, 21]])
    free = ours.generate(ids, max_new_tokens=12).numpy()
    stop = int(free[0, 5])  # the third token row 0 produces
    out = ours.generate(ids, max_new_tokens=12, eos_token_id=[stop], pad_token_id=0).numpy()
    first_stop = 3 + list(free[0, 3:]).index(stop)
    assert (out[0, :first_stop + 1] == free[0, :first_stop + 1]).all()
    assert (out[0, first_stop + 1:] == 0).all()
    row1_stops = [i for i in range(3, free.shape[1]) if free[1, i] == stop]
    expected_len = free.shape[1] if not row1_stops else max(first_stop, row1_stops[0]) + 1
    assert out.shape[1] == expected_len


def last_logits(reference, prompt):
    with torch.no_grad():
        return reference(torch.tensor([prompt]))[0, -1].double()


def draw(ours, prompt, n, **kwargs):
    ids = fw.tensor([prompt] * n)
    out = ours.generate(ids, max_new_tokens=1, do_sample=True, generator=fw.Generator().manual_seed(11), **kwargs)
    return np.bincount(out[:, -1].numpy(), minlength=TINY["vocab_size"]) / n


def test_sampling_follows_temperature_top_k_and_top_p(pair):
    ours, reference = pair
    prompt = [4, 4, 17]
    logits = last_logits(reference, prompt)
    n = 4000
    tol = 4 * math.sqrt(0.25 / n)  # four standard deviations of a frequency

    freq = draw(ours, prompt, n, temperature=2.0)
    np.testing.assert_allclose(freq, torch.softmax(logits / 2.0, -1).numpy(), atol=tol)

    top3 = torch.topk(logits, 3).indices.numpy()
    freq = draw(ours, prompt, n, top_k=3)
    assert set(np.flatnonzero(freq)) <= set(top3.tolist())
    renorm = torch.softmax(logits[top3], -1).numpy()
    np.testing.assert_allclose(freq[top3], renorm, atol=tol)

    probs, order = torch.sort(torch.softmax(logits, -1), descending=True)
    keep = int((torch.cumsum(probs, 0) - probs < 0.8).sum())  # the nucleus: mass before each kept token < 0.8
    nucleus = order[:keep].numpy()
    freq = draw(ours, prompt, n, top_p=0.8)
    assert set(np.flatnonzero(freq)) <= set(nucleus.tolist())
    np.testing.assert_allclose(freq[nucleus], (probs[:keep] / probs[:keep].sum()).numpy(), atol=tol)


def test_filters_on_hand_computed_distributions():
    probs = fw.tensor([[0.1, 0.5, 0.05, 0.2, 0.15]])
    logits = probs.log()
    kept = lambda filtered: np.flatnonzero(np.isfinite(filtered.numpy()[0])).tolist()  # noqa: E731
    assert kept(gpt2.top_k_filter(logits, 2)) == [1, 3]
    assert kept(gpt2.top_k_filter(logits, 99)) == [0, 1, 2, 3, 4]
    assert kept(gpt2.top_p_filter(logits, 0.5)) == [1]            # 0.5 alone reaches 0.5
    assert kept(gpt2.top_p_filter(logits, 0.6)) == [1, 3]         # 0.5 < 0.6 <= 0.7
    assert kept(gpt2.top_p_filter(logits, 0.85)) == [1, 3, 4]     # 0.7 < 0.85 <= 0.85
    assert kept(gpt2.top_p_filter(logits, 1.0)) == [0, 1, 2, 3, 4]
    assert kept(gpt2.top_p_filter(logits, 0.01)) == [1]
    ties = fw.tensor([[1.0, 3.0, 3.0, 0.0]])
    assert kept(gpt2.top_k_filter(ties, 1)) == [1, 2]
    with pytest.raises(ValueError, match="top_k"):
        gpt2.top_k_filter(logits, 0)
    with pytest.raises(ValueError, match="top_p"):
        gpt2.top_p_filter(logits, 1.5)


def test_full_gpt2_small_names_and_shapes():
    reference = RefGPT2LMHeadModel(full_config()).to("meta")
    ours = gpt2.MODELS["gpt2"]()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert ours.transformer.h[0].attn.c_attn.weight.shape == (768, 2304)


def test_remap_state_dict_loads_a_gpt2model_checkpoint(pair):
    ours, _ = pair
    checkpoint = {k[len("transformer."):]: v.clone() for k, v in ours.state_dict().items() if k != "lm_head.weight"}
    for i in range(TINY["n_layer"]):
        checkpoint[f"h.{i}.attn.bias"] = fw.ones(1, 1, 40, 40).tril()
        checkpoint[f"h.{i}.attn.masked_bias"] = fw.tensor(-1e4)
    fresh = gpt2.GPT2LMHeadModel(TINY)
    fresh.load_state_dict(gpt2.remap_state_dict("gpt2", checkpoint), strict=True)
    assert fw.equal(fresh.lm_head.weight, ours.transformer.wte.weight)
    assert fresh.lm_head.weight is fresh.transformer.wte.weight


def test_config_and_argument_errors(pair):
    ours, _ = pair
    model = gpt2.gpt2(config={"n_layer": 1, "n_embd": 16, "n_head": 2, "vocab_size": 20, "n_ctx": 1024,
                              "activation_function": "relu", "tie_word_embeddings": False})
    assert model.transformer.h[0].attn.c_attn.weight.shape == (16, 48)
    assert model.lm_head.weight is not model.transformer.wte.weight
    with pytest.raises(NotImplementedError, match="model_type"):
        gpt2.gpt2(config={"model_type": "gpt_neo"})
    with pytest.raises(NotImplementedError, match="reorder_and_upcast_attn"):
        gpt2.GPT2LMHeadModel(TINY, reorder_and_upcast_attn=True)
    with pytest.raises(ValueError, match="n_head"):
        gpt2.GPT2LMHeadModel(TINY, n_head=5)
    ids = fw.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="n_positions"):
        ours.generate(ids, max_new_tokens=40)
    with pytest.raises(ValueError, match="temperature"):
        ours.generate(ids, do_sample=True, temperature=0.0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        ours.generate(ids, max_new_tokens=-1)
    with pytest.warns(UserWarning, match="do_sample"):
        ours.generate(ids, max_new_tokens=1, top_k=3)
    assert fw.equal(ours.generate(ids, max_new_tokens=0), ids)


def test_zoo_load_reads_a_hugging_face_directory_laid_out_like_the_published_gpt2(pair, tmp_path):
    import json

    import zoo
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    ours, _ = pair
    # The published gpt2 files: GPT2Model names (no "transformer."), no lm_head, the old mask buffers included.
    tensors = {k[len("transformer."):]: v.detach().numpy() for k, v in ours.state_dict().items()
               if k != "lm_head.weight"}
    tensors.update({f"h.{i}.attn.bias": np.tril(np.ones((1, 1, 40, 40), np.float32)) for i in range(TINY["n_layer"])})
    safetensors_numpy.save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
                                                      "n_ctx": 40, **TINY}))
    loaded = zoo.load("gpt2", weights=tmp_path)
    assert not loaded.training and loaded.lm_head.weight is loaded.transformer.wte.weight
    ids = fw.tensor([[7, 3, 9]])
    assert fw.equal(loaded.generate(ids, max_new_tokens=6), ours.generate(ids, max_new_tokens=6))


def test_progress_bar_is_silent_off_a_terminal(pair, capsys):
    ours, _ = pair
    out = ours.generate(fw.tensor([[7, 3, 9]]), max_new_tokens=3, progress=True)
    assert out.shape == (1, 6)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
