"""framework.save/load in PyTorch's checkpoint format: round trips with PyTorch, safety, atomic writes, safetensors."""
import collections
import io
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import pytest

import framework
from framework import serialization

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class Custom:
    """A class that weights-only loading must refuse."""

    def __init__(self, v=1):
        self.v = v


def _torch():
    return pytest.importorskip("torch")


def _sample(lib):
    base = lib.arange(12.0).reshape(3, 4)
    return collections.OrderedDict(
        base=base, row=base[1], col=base[:, 2], tr=base.t(),
        bf16=lib.tensor([1.5, -2.25, 3.0], dtype=lib.bfloat16), f16=lib.tensor([0.5, 65504.0], dtype=lib.float16),
        f64=lib.tensor([1e-300, 2.0], dtype=lib.float64), i8=lib.tensor([-3, 4], dtype=lib.int8),
        u8=lib.tensor([0, 255], dtype=lib.uint8), i16=lib.tensor([7], dtype=lib.int16),
        i32=lib.tensor([1, -2], dtype=lib.int32), i64=lib.tensor([2 ** 40]), b=lib.tensor([True, False]),
        scalar=lib.tensor(3.5), empty=lib.zeros(0, 3), grad=lib.ones(2, requires_grad=True),
        param=lib.nn.Parameter(lib.full((2,), 0.25)),
        meta={"n": 3, "s": "text", "t": (1, 2.5, None), "l": [True, b"raw"], "size": lib.Size([2, 3]),
              "dtype": lib.float16, "device": lib.device("cpu")})


def _describe(obj):
    """A library-neutral picture of a loaded object: tensors as (kind, dtype, shape, stride, values, requires_grad)."""
    if hasattr(obj, "storage_offset") and hasattr(obj, "dtype"):
        kind = "Parameter" if type(obj).__name__ == "Parameter" else "Tensor"
        return (kind, str(obj.dtype).split(".")[-1], tuple(obj.shape), tuple(obj.stride()),
                obj.float().tolist() if str(obj.dtype).endswith("bfloat16") else obj.tolist(), obj.requires_grad)
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: _describe(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)) and type(obj).__name__ != "Size":
        return (type(obj).__name__, [_describe(v) for v in obj])
    if type(obj).__name__ in ("Size", "device", "dtype"):
        return (type(obj).__name__, str(obj).replace("torch.", ""))
    return obj


def test_round_trip_ours(tmp_path):
    obj = _sample(framework)
    framework.save(obj, tmp_path / "a.pt")
    back = framework.load(tmp_path / "a.pt")
    assert _describe(back) == _describe(obj)
    assert type(back) is collections.OrderedDict and isinstance(back["param"], framework.nn.Parameter)
    back["row"][0] = -1.0  # views saved together share storage after load
    assert back["base"][1, 0].item() == -1.0 and back["tr"][0, 1].item() == -1.0


def test_ours_loads_in_torch(tmp_path):
    torch = _torch()
    framework.save(_sample(framework), tmp_path / "ours.pt")
    for weights_only in (True, False):
        theirs = torch.load(tmp_path / "ours.pt", weights_only=weights_only)
        assert _describe(theirs) == _describe(_sample(torch))
        assert isinstance(theirs["param"], torch.nn.Parameter)
        theirs["col"][0] = 100.0
        assert theirs["base"][0, 2].item() == 100.0
    names = {n.split("/", 1)[1] for n in zipfile.ZipFile(tmp_path / "ours.pt").namelist()}
    torch.save(_sample(torch), tmp_path / "theirs.pt")
    assert names == {n.split("/", 1)[1] for n in zipfile.ZipFile(tmp_path / "theirs.pt").namelist()}


def test_torch_file_loads_here(tmp_path):
    torch = _torch()
    torch.save(_sample(torch), tmp_path / "theirs.pt")
    ours = framework.load(tmp_path / "theirs.pt")
    assert _describe(ours) == _describe(_sample(framework))
    assert ours["row"]._vc is ours["base"]._vc
    ours["tr"][3, 2] = 7.0
    assert ours["base"][2, 3].item() == 7.0
    linear = torch.nn.Linear(3, 2)
    torch.save(linear.state_dict(), tmp_path / "linear.pt")
    sd = framework.load(tmp_path / "linear.pt", map_location="cpu")
    assert list(sd) == ["weight", "bias"] and sd["weight"].tolist() == linear.weight.tolist()


def test_torch_file_loads_without_torch(tmp_path):
    torch = _torch()
    torch.save({"w": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), "p": torch.nn.Parameter(torch.ones(2))},
               tmp_path / "t.pt")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        import framework
        d = framework.load({str(tmp_path / "t.pt")!r})
        print(d["w"].dtype, d["w"].float().tolist(), type(d["p"]).__name__)
        assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None and m.startswith("torch")]
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": REPO}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "torch.bfloat16 [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] Parameter"


def test_file_objects_and_map_location():
    buf = io.BytesIO()
    framework.save({"x": framework.arange(3)}, buf)
    buf.seek(0)
    assert framework.load(buf)["x"].tolist() == [0, 1, 2]
    buf.seek(0)
    assert framework.load(buf, map_location=lambda storage, loc: storage)["x"].tolist() == [0, 1, 2]
    buf.seek(0)
    assert framework.load(buf, map_location={"cpu": "cpu"})["x"].device.type == "cpu"
    torch = _torch()
    buf.seek(0)
    assert torch.load(buf)["x"].tolist() == [0, 1, 2]


def test_weights_only_refuses_arbitrary_globals():
    buf = io.BytesIO()
    framework.save({"obj": Custom(5), "t": framework.ones(1)}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=f"Unsupported global: GLOBAL {__name__}.Custom"):
        framework.load(buf)
    buf.seek(0)
    assert framework.load(buf, weights_only=False)["obj"].v == 5
    buf.seek(0)
    with serialization.safe_globals([Custom]):
        assert framework.load(buf)["obj"].v == 5
    assert serialization.get_safe_globals() == []
    for forbidden in (slice(1, 2), os.system):
        buf = io.BytesIO()
        framework.save([forbidden], buf)
        buf.seek(0)
        with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
            framework.load(buf)


def test_torch_full_pickle_maps_to_framework(tmp_path):
    torch = _torch()
    torch.save({"size": torch.Size([1, 2]), "set": {1, 2}, "bytes": b"ab"}, tmp_path / "x.pt")
    assert framework.load(tmp_path / "x.pt") == {"size": framework.Size([1, 2]), "set": {1, 2}, "bytes": b"ab"}


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    framework.save({"w": framework.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        framework.save({"w": framework.zeros(2), "f": lambda: 0}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]
    assert framework.load(path)["w"].tolist() == [1.0, 1.0]


def test_load_errors(tmp_path):
    (tmp_path / "bad.pt").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(NotImplementedError, match="legacy format"):
        framework.load(tmp_path / "bad.pt")
    with pytest.raises(NotImplementedError, match="mmap"):
        framework.load(tmp_path / "bad.pt", mmap=True)


def test_plain_pickle_of_tensor():
    t = framework.tensor([1.0, 2.0], dtype=framework.bfloat16)
    back = pickle.loads(pickle.dumps(t))
    assert back.dtype is framework.bfloat16 and back.float().tolist() == [1.0, 2.0]


def test_safetensors_round_trips(tmp_path):
    pytest.importorskip("safetensors")
    tensors = {"w": framework.arange(6.0).reshape(2, 3), "b": framework.tensor([1.5, -2.0], dtype=framework.bfloat16),
               "i": framework.tensor([1, 2], dtype=framework.int32)}
    serialization.save_safetensors(tensors, tmp_path / "a.safetensors")
    back = serialization.load_safetensors(tmp_path / "a.safetensors")
    assert {k: _describe(v) for k, v in back.items()} == {k: _describe(v) for k, v in tensors.items()}
    torch = _torch()
    from safetensors.torch import load_file, save_file
    theirs = load_file(str(tmp_path / "a.safetensors"))
    assert theirs["b"].dtype == torch.bfloat16 and theirs["b"].float().tolist() == [1.5, -2.0]
    save_file({"x": torch.tensor([0.5, 3.0], dtype=torch.bfloat16), "y": torch.ones(2, 2)},
              str(tmp_path / "t.safetensors"))
    ours = serialization.load_safetensors(tmp_path / "t.safetensors")
    assert ours["x"].dtype is framework.bfloat16 and ours["x"].float().tolist() == [0.5, 3.0]
    assert ours["y"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_safetensors_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        serialization.load_safetensors("nowhere.safetensors")
