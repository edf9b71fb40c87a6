"""zoo.hub: model discovery and checkpoint loading from our files, torch.save files, safetensors and HF folders."""
import json
import socket
import types

import numpy as np
import pytest

import framework as torch
import framework.nn as nn

import zoo
from zoo import hub


# A family module built here: a builder configured from config.json, and a remap that strips a prefix.
class Toy(nn.Module):
    """Linear(width -> 2) under the name ``body``, like a small HF-style model."""

    def __init__(self, config=None, width=3):
        super().__init__()
        self.width = (config or {}).get("width", width)
        self.body = nn.Linear(self.width, 2)

    def forward(self, x):
        return self.body(x)


def _toy_family():
    module = types.ModuleType("zoo.models.toy")
    module.MODELS = {"toy": lambda config=None, **kw: Toy(config, **kw), "plain": lambda: nn.Linear(3, 2)}
    module.remap_state_dict = lambda name, sd: {k[len("model."):] if k.startswith("model.") else k: v
                                                for k, v in sd.items()}
    return module


@pytest.fixture
def toy(monkeypatch):
    module = _toy_family()
    monkeypatch.setattr(hub, "_registry", lambda: {name: (module, b) for name, b in module.MODELS.items()})
    return module


def _assert_state_equal(model, arrays):
    state = model.state_dict()
    assert set(state) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(state[key].numpy(), np.asarray(value))


def _toy_arrays(width=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"body.weight": rng.standard_normal((2, width)).astype(np.float32),
            "body.bias": rng.standard_normal(2).astype(np.float32)}


# ---------------------------------------------------------------------------------------------- discovery
def test_list_models_discovers_every_family():
    names = zoo.list_models()
    assert names == sorted(names) and {"mlp", "lenet"} <= set(names)
    assert hub.model_family("lenet") == "lenet" and hub.model_family("mlp") == "mlp"
    for name in ("resnet18", "gpt2", "bert-base-uncased"):
        if name in names:
            assert hub.model_family(name) in name.replace("-", "")


def test_unknown_model_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet9'; known models: .*lenet, mlp"):
        zoo.load("resnet9")


def test_load_without_weights_builds_with_config():
    net = zoo.load("mlp", in_features=4, hidden_features=(3,), num_classes=2)
    assert net.training and [tuple(p.shape) for p in net.parameters()] == [(3, 4), (3,), (2, 3), (2,)]


# ---------------------------------------------------------------------------------------------- file formats
def test_load_our_own_pt_file_and_training_checkpoint(tmp_path):
    torch.manual_seed(0)
    trained = zoo.load("mlp", in_features=4, hidden_features=(3,), num_classes=2)
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    loaded = zoo.load("mlp", weights=tmp_path / "w.pt", in_features=4, hidden_features=(3,), num_classes=2)
    assert not loaded.training
    _assert_state_equal(loaded, {k: v.numpy() for k, v in trained.state_dict().items()})
    x = torch.randn(5, 4)
    assert torch.equal(loaded(x), trained.eval()(x))

    torch.save({"epoch": 3, "model": trained.state_dict(), "optimizer": None}, tmp_path / "ckpt.pth")
    again = zoo.load("mlp", weights=str(tmp_path / "ckpt.pth"), in_features=4, hidden_features=(3,), num_classes=2)
    _assert_state_equal(again, {k: v.numpy() for k, v in trained.state_dict().items()})


def test_load_a_torch_save_file_of_a_torch_module(tmp_path):
    torch_ = pytest.importorskip("torch")
    torch_.manual_seed(0)
    ref = torch_.nn.Sequential(torch_.nn.Linear(4, 3), torch_.nn.ReLU(), torch_.nn.Dropout(0.0),
                               torch_.nn.Linear(3, 2), torch_.nn.Dropout(0.0))  # MLP's layout and names
    torch_.save(ref.state_dict(), tmp_path / "ref.pth")
    ours = zoo.load("mlp", weights=tmp_path / "ref.pth", in_features=4, hidden_features=(3,), num_classes=2)
    _assert_state_equal(ours, {k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(torch.tensor(x)).detach().numpy(), ref.eval()(torch_.tensor(x)).detach().numpy(),
                               atol=1e-6)


def test_load_safetensors_file_written_by_the_safetensors_package(tmp_path, toy):
    st = pytest.importorskip("safetensors.numpy")
    arrays = _toy_arrays()
    st.save_file({f"model.{k}": v for k, v in arrays.items()}, str(tmp_path / "toy.safetensors"))
    model = zoo.load("toy", weights=tmp_path / "toy.safetensors")  # remap strips "model."
    _assert_state_equal(model, arrays)


def test_hugging_face_directory_with_config_and_each_weights_file(tmp_path, toy):
    st = pytest.importorskip("safetensors.numpy")
    arrays = _toy_arrays(width=5)
    (tmp_path / "config.json").write_text(json.dumps({"width": 5, "architectures": ["Toy"]}))
    torch.save({k: torch.tensor(v) for k, v in arrays.items()}, tmp_path / "pytorch_model.bin")
    model = zoo.load("toy", weights=tmp_path)
    assert model.width == 5  # the builder got config.json
    _assert_state_equal(model, arrays)

    newer = _toy_arrays(width=5, seed=1)
    st.save_file(newer, str(tmp_path / "model.safetensors"))  # preferred over pytorch_model.bin
    _assert_state_equal(zoo.load("toy", weights=str(tmp_path)), newer)
    assert zoo.load("toy", weights=tmp_path, config={"width": 5}).width == 5  # an explicit config wins


def test_sharded_safetensors_directory(tmp_path, toy):
    st = pytest.importorskip("safetensors.numpy")
    arrays = _toy_arrays()
    st.save_file({"body.weight": arrays["body.weight"]}, str(tmp_path / "model-00001-of-00002.safetensors"))
    st.save_file({"body.bias": arrays["body.bias"]}, str(tmp_path / "model-00002-of-00002.safetensors"))
    index = {"metadata": {}, "weight_map": {"body.weight": "model-00001-of-00002.safetensors",
                                            "body.bias": "model-00002-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    _assert_state_equal(zoo.load("toy", weights=tmp_path), arrays)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="lists shard model-00002-of-00002.safetensors"):
        zoo.load("toy", weights=tmp_path)


def test_state_dict_in_memory_and_device(toy):
    arrays = _toy_arrays()
    model = zoo.load("toy", weights={k: torch.tensor(v) for k, v in arrays.items()}, device="npu")
    assert all(p.device.type == "npu" for p in model.parameters())
    _assert_state_equal(model.to("cpu"), arrays)


# ---------------------------------------------------------------------------------------------- errors
def test_missing_files_say_what_was_looked_for(tmp_path, toy):
    with pytest.raises(FileNotFoundError, match=r"no weights in directory .*model\.safetensors.*pytorch_model\.bin"):
        zoo.load("toy", weights=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nope\.pt does not exist"):
        zoo.load("toy", weights=tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        zoo.load_tokenizer(tmp_path)


def test_bad_checkpoints_are_refused(tmp_path, toy):
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unsupported weights file .*w\.npz"):
        zoo.load("toy", weights=tmp_path / "w.npz")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a state dict"):
        zoo.load("toy", weights=tmp_path / "list.pt")
    extra = {k: torch.tensor(v) for k, v in _toy_arrays().items()}
    extra["head.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="head.weight"):  # strict loading
        zoo.load("toy", weights=extra)
    (tmp_path / "config.json").write_text("{}")
    torch.save({k: torch.tensor(v) for k, v in _toy_arrays().items()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(TypeError, match="not configured from one"):
        zoo.load("plain", weights=tmp_path)


def test_loading_never_opens_a_network_connection(tmp_path, toy, monkeypatch):
    st = pytest.importorskip("safetensors.numpy")
    st.save_file(_toy_arrays(), str(tmp_path / "model.safetensors"))

    def refuse(*args, **kwargs):
        raise AssertionError("zoo tried to open a network connection")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    _assert_state_equal(zoo.load("toy", weights=tmp_path), _toy_arrays())


def test_load_tokenizer_from_a_model_directory(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    loaded = zoo.load_tokenizer(tmp_path)
    assert loaded.encode("hello world again") == [1, 2, 0]
