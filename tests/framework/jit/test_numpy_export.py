"""framework.export.to_numpy_source: the written file runs with numpy alone and matches our eager outputs."""
import ast
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import framework as torch
import framework.nn as nn
from _export_models import MODELS, eager_outputs, zoo_models


def load(path):
    """The exported file imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(model, args, path):
    torch.export.to_numpy_source(model, args, path)
    got = load(path).forward(*[a.numpy() for a in args])
    got = list(got) if isinstance(got, tuple) else [got]
    expected = eager_outputs(model, args)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_match_eager(name, tmp_path):
    model, args = MODELS[name]()
    check(model, args, tmp_path / f"{name}_numpy.py")


@pytest.mark.parametrize("name", sorted(zoo_models()))
def test_zoo_models_match_eager(name, tmp_path):
    model, args = zoo_models()[name]()
    check(model, args, tmp_path / f"{name.replace('-', '_')}_numpy.py")


def test_file_runs_as_a_script_with_numpy_only(tmp_path):
    model, args = MODELS["lenet"]()
    path = tmp_path / "lenet_numpy.py"
    torch.export.to_numpy_source(model, args, path)
    # the file may import numpy and the standard library, nothing of ours
    imports = {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    assert imports <= {"numpy", "base64", "io", "math"}
    # run with an empty working directory and -I so neither framework nor kernels is importable
    done = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "output 0: shape (2, 10), dtype float32" in done.stdout


def test_file_is_readable(tmp_path):
    model, args = MODELS["mlp"]()
    path = tmp_path / "mlp_numpy.py"
    torch.export.to_numpy_source(model, args, path)
    text = path.read_text()
    forward = text[text.index("def forward"):text.index('if __name__ == "__main__"')]
    lines = [line for line in forward.splitlines()[2:] if line.strip() and not line.strip().startswith("return")]
    # dropout (eval) vanishes; linear, bias add, relu, linear, add, gelu, linear, add: one line each
    assert len(lines) == 8
    assert all(" @ " in line for line in lines if "linear" in line.split("#")[1])
    assert all("# " in line and ".py:" in line for line in lines)
    assert "P['0.weight']" in forward and "_gelu(" in forward
    assert "def _gelu" in text and "def _conv" not in text  # only the helpers used are written


def test_unsupported_op_is_named(tmp_path):
    class Sorting(nn.Module):
        def forward(self, x):
            return x.sort().values

    with pytest.raises(NotImplementedError, match="op 'sort'.*test_numpy_export.py"):
        torch.export.to_numpy_source(Sorting(), (torch.randn(4),), tmp_path / "s.py")
    assert not (tmp_path / "s.py").exists()


def test_missing_directory_is_a_clear_error(tmp_path):
    model, args = MODELS["mlp"]()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        torch.export.to_numpy_source(model, args, tmp_path / "missing" / "m.py")


def test_used_pool_indices_are_refused(tmp_path):
    class Indices(nn.Module):
        def forward(self, x):
            return torch.nn.functional.max_pool2d(x, 2, return_indices=True)[1].float()

    with pytest.raises(NotImplementedError, match="indices output of 'max_pool'"):
        torch.export.to_numpy_source(Indices(), (torch.randn(1, 1, 4, 4),), tmp_path / "i.py")


def test_in_place_relu_and_int_inputs(tmp_path):
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 3)

        def forward(self, ids, x):
            y = self.emb(ids) * 2
            y.relu_()
            return y + x, (ids * 2.5).sum(), ids > 3

    model = Mixed()
    check(model, (torch.tensor([[1, 6], [3, 0]]), torch.randn(2, 2, 3)), tmp_path / "mixed.py")
