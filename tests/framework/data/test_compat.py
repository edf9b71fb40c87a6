"""Zero-edit mode: ``framework.compat.install()`` and ``python -m framework.run script.py``."""
import os
import subprocess
import sys
import textwrap

import pytest

import framework
from framework import compat

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

SCRIPT = """
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("name")
args = parser.parse_args()

print("version", torch.__version__, torch.version.cuda, torch.cuda.is_available(),
      torch.backends.cudnn.is_available(), torch.backends.mps.is_available())
torch.manual_seed(0)
x = torch.randn(12, 3)
y = (x.sum(1) > 0).long()
loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)
for epoch in range(args.epochs):
    for xb, yb in loader:
        print("batch", yb.tolist(), round(F.relu(xb).sum().item(), 4))
torch.save({"x": x}, args.name)
print("loaded", torch.equal(torch.load(args.name)["x"], x))
print("main", __name__, nn.functional is F)
try:
    torch.definitely_not_an_attribute
except AttributeError as e:
    print("missing", e)
"""


def _run(tmp_path, *args):
    (tmp_path / "train.py").write_text(SCRIPT)
    return subprocess.run([sys.executable, "-m", "framework.run", *args], capture_output=True, text=True,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)


def test_run_unmodified_script(tmp_path):
    out = _run(tmp_path, "train.py", "--epochs", "2", "ckpt.pt")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "version 2.13.0+framework None False False False"
    assert lines[-3:-1] == ["loaded True", "main __main__ True"]
    assert lines[-1] == ("missing module 'torch' has no attribute 'definitely_not_an_attribute': "
                         "torch.definitely_not_an_attribute is not supported yet by framework")
    torch = pytest.importorskip("torch")
    real = subprocess.run([sys.executable, "train.py", "--epochs", "2", "real.pt"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    batches = [line for line in lines if line.startswith("batch")]
    assert len(batches) == 6
    assert batches == [line for line in real.stdout.splitlines() if line.startswith("batch")]
    assert torch.equal(torch.load(tmp_path / "ckpt.pt")["x"], torch.load(tmp_path / "real.pt")["x"])


def test_run_usage_and_module_mode(tmp_path):
    out = subprocess.run([sys.executable, "-m", "framework.run"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": REPO}, timeout=60)
    assert out.returncode == 2 and "usage" in out.stderr
    (tmp_path / "mod_main.py").write_text("import sys, torch\nprint(torch.tensor([1, 2]).sum().item(), sys.argv[1:])\n")
    out = subprocess.run([sys.executable, "-m", "framework.run", "-m", "mod_main", "x"], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": f"{REPO}:{tmp_path}"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3 ['x']"


def test_install_and_uninstall_in_process():
    before = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    finders = list(sys.meta_path)
    compat.install()
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader
        assert torch.__version__ == compat.TORCH_VERSION and torch.version.cuda is None
        assert torch.Tensor is framework.Tensor and torch.float32 is framework.float32
        assert nn.Linear is framework.nn.Linear and F.relu is framework.nn.functional.relu
        assert DataLoader is framework.utils.data.DataLoader
        assert torch.nn is nn and torch.nn.functional is F
        assert torch.backends.cudnn.is_available() is False
        with pytest.raises(AttributeError, match="torch.nn.NoSuchLayer is not supported yet by framework"):
            nn.NoSuchLayer
        with pytest.raises(ModuleNotFoundError, match="torch.no_such_module is not supported yet by framework"):
            import torch.no_such_module  # noqa: F401
        compat.install()  # idempotent
    finally:
        compat.uninstall()
    after = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    assert sys.meta_path == finders and not compat.is_installed()
    if before:
        import torch
        assert torch.__version__ != compat.TORCH_VERSION


def test_install_alias_does_not_touch_framework():
    compat.install()
    try:
        import torch
        torch.some_user_attribute = 1
    finally:
        compat.uninstall()
    assert not hasattr(framework, "some_user_attribute")
    assert framework.__version__ != compat.TORCH_VERSION


def test_subprocess_import_torch_alias_after_install(tmp_path):
    script = textwrap.dedent("""
        from framework import compat
        compat.install()
        import torch, torch.optim
        import framework
        print(torch.zeros(2).__class__ is framework.Tensor, torch.optim.__name__)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": REPO}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True torch.optim"
