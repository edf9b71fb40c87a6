"""Write ``quickstart.ipynb`` and ``porting_from_pytorch.ipynb`` (outputs cleared) from the cells below.

    python examples/make_notebooks.py

Edit the notebooks here, not in Jupyter, so that the committed files stay the reviewed source.
"""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

# A checkout used without `pip install -e .`: notebooks run from examples/, the packages live one level up.
SETUP = """\
import os, sys
if os.path.isdir(os.path.join("..", "framework")) and os.path.abspath("..") not in sys.path:
    sys.path.insert(0, os.path.abspath(".."))"""

QUICKSTART = [
    ("md", """\
# Quickstart

`framework` is a PyTorch-compatible deep-learning framework written in Python over numpy and Numba:
`import framework as torch` and the usual PyTorch code runs. This notebook goes through tensors, autograd,
training a small network on the handwritten digits shipped with the repository, graph mode
(`framework.compile`), and the simulated NPU with its profiler."""),
    ("code", SETUP + """
import numpy as np
import framework as torch
import framework.nn as nn
import framework.nn.functional as F

torch.manual_seed(0)
torch.__version__"""),
    ("md", """\
## Tensors

Tensors have PyTorch's constructors, operators, dtypes and printing. On the CPU a tensor wraps a numpy array,
and `.numpy()` / `torch.from_numpy` share memory with numpy."""),
    ("code", """\
x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
x"""),
    ("code", """\
x.shape, x.dtype, x.device, x.sum(dim=1), x.T @ x"""),
    ("code", """\
a = np.ones((2, 3), dtype=np.float32)
b = torch.from_numpy(a)
a[0, 0] = 10.0          # shared memory: the tensor sees the change
x + b"""),
    ("md", """\
## Autograd

Operations on tensors with `requires_grad=True` are recorded; `backward()` fills each leaf's `.grad`.
Here the gradient of $\\sum_i w_i^2 + \\prod_i w_i$ is $2w_i + \\prod_{j \\ne i} w_j$."""),
    ("code", """\
w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
loss = (w ** 2).sum() + w.prod()
loss.backward()
expected = 2 * w.detach() + torch.tensor([-6.0, 3.0, -2.0])
assert torch.allclose(w.grad, expected)
w.grad"""),
    ("code", """\
# gradients of any differentiable function, checked against finite differences in float64
t = torch.randn(5, dtype=torch.float64, requires_grad=True)
torch.autograd.gradcheck(lambda t: (t.sin() * t.exp()).sum(), (t,))"""),
    ("md", """\
## Training a model on the bundled digits

`zoo.datasets.load_digits()` gives the UCI handwritten digits (8x8 images, 10 classes) that ship with the
repository. The training loop is ordinary PyTorch: a `DataLoader`, a model, an optimizer."""),
    ("code", """\
from framework.utils.data import DataLoader, TensorDataset
from zoo.datasets import load_digits

x_train, y_train, x_test, y_test = load_digits()
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, drop_last=True)
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
print(f"{len(x_train)} training and {len(x_test)} test images")
model"""),
    ("code", """\
def train_step(xb, yb):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss

def accuracy(net, x, y):
    with torch.no_grad():
        return (net(x).argmax(dim=1) == y).float().mean().item()

losses = []
for epoch in range(5):
    for xb, yb in loader:
        losses.append(train_step(xb, yb).item())
    print(f"epoch {epoch + 1}: loss {losses[-1]:.4f}, test accuracy {accuracy(model, x_test, y_test):.3f}")
assert accuracy(model, x_test, y_test) > 0.9"""),
    ("code", """\
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(losses, label="training batch")
ax.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="MLP on the digits")
ax.legend()
plt.show()"""),
    ("md", """\
## Graph mode

`torch.compile(fn)` captures the whole step once (forward, backward and the optimizer update) as a graph,
optimises it (dead code, common subexpressions, elementwise fusion, buffer reuse) and replays it on later
calls. What the capture assumed (shapes, dtypes, grad mode, ...) is guarded: a call that breaks an assumption
is traced again, and the reason is kept."""),
    ("code", """\
import time

compiled_step = torch.compile(train_step)
xb, yb = next(iter(loader))

def steps_per_second(step, n=100):
    for _ in range(3):                # warm up: trace, compile the generated kernels
        step(xb, yb)
    start = time.perf_counter()
    for _ in range(n):
        step(xb, yb)
    return n / (time.perf_counter() - start)

eager_rate, graph_rate = steps_per_second(train_step), steps_per_second(compiled_step)
print(f"eager {eager_rate:.0f} steps/s, compiled {graph_rate:.0f} steps/s")
compiled_step"""),
    ("code", """\
# the captured program: typed SSA values, each op with the line of user code that issued it
print("\\n".join(str(compiled_step.graph).splitlines()[:20]), "\\n  ...")"""),
    ("md", """\
`torch.jit.explain` says what graph mode makes of a function: graph breaks with their source line, the passes
and what each removed, the fusion groups, the memory plan, and the predicted and measured gain."""),
    ("code", """\
torch.jit.explain(train_step, xb, yb)"""),
    ("code", """\
def step_with_logging(xb, yb):
    loss = train_step(xb, yb)
    if loss > 1.0:                    # Python branching on a tensor's value: the trace cannot follow it
        print("high loss")
    return loss

torch.jit.explain(step_with_logging, xb, yb)"""),
    ("md", """\
## The simulated NPU

The `npu` device runs each op as a program on a cycle-approximate simulator of an AI core (matrix multiplies
on the cube unit, elementwise ops on the vector unit). `torch.npu.profile()` collects every kernel call's
cycles, cube utilisation and memory traffic."""),
    ("code", """\
import copy

npu_model = copy.deepcopy(model).to("npu")
batch = x_test[:64]
with torch.no_grad():
    with torch.npu.profile() as prof:
        logits = npu_model(batch.to("npu"))
    reference = model(batch)
print("largest difference from the CPU:", (logits.cpu() - reference).abs().max().item())
prof"""),
    ("code", """\
estimate = prof.chip_estimate()
print(f"estimated chip time {estimate.seconds * 1e6:.1f} us at {estimate.clock_hz / 1e9:.1f} GHz, "
      f"{estimate.host_fallbacks} host fallbacks")"""),
    ("code", """\
# when each pipe of the AI core was busy, call after call
import tempfile
from IPython.display import Image

Image(prof.timeline(os.path.join(tempfile.mkdtemp(), "npu_timeline.png")))"""),
]

PORTING = [
    ("md", """\
# Porting from PyTorch

Three ways to run PyTorch code on `framework`:

1. **Edit one line**: `import framework as torch`.
2. **Edit nothing, in a process you control**: `framework.compat.install()` makes `import torch` (and every
   `torch.X.Y`) resolve to the framework until `framework.compat.uninstall()`.
3. **Edit nothing at all**: `python -m framework.run script.py [args]` runs a script with the alias installed.

Checkpoints go both ways: `framework.load` reads files written by `torch.save` and `framework.save` writes files
`torch.load` reads."""),
    ("code", SETUP + """
import subprocess, tempfile, textwrap
import numpy as np
import framework
import framework.compat

workdir = tempfile.mkdtemp()
repo = os.path.abspath("..") if os.path.isdir(os.path.join("..", "framework")) else None
env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))"""),
    ("md", """\
## An ordinary PyTorch script

Nothing in it knows about `framework`: it imports `torch`, builds a model, trains it with a `DataLoader`,
and saves a checkpoint with `torch.save`."""),
    ("code", """\
script = os.path.join(workdir, "train_regression.py")
with open(script, "w") as f:
    f.write(textwrap.dedent('''
        import sys
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset

        torch.manual_seed(0)
        x = torch.randn(512, 8)
        y = x @ torch.linspace(-1, 1, 8).unsqueeze(1) + 0.1 * torch.randn(512, 1)
        model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for epoch in range(20):
            for xb, yb in DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True):
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(xb), yb)
                loss.backward()
                opt.step()
        print(f"torch {torch.__version__}: final loss {loss.item():.4f}")
        torch.save(model.state_dict(), sys.argv[1])
    '''))"""),
    ("code", """\
# unchanged, through python -m framework.run
run = subprocess.run([sys.executable, "-m", "framework.run", script, os.path.join(workdir, "ours.pt")],
                     capture_output=True, text=True, env=env)
print(run.stdout, run.stderr)
assert run.returncode == 0"""),
    ("md", """\
## Inside this process: `framework.compat.install()`

After `install()`, `import torch` gives an alias of `framework`; `uninstall()` puts back whatever real `torch`
modules were loaded before."""),
    ("code", """\
framework.compat.install()
import torch
from torch import nn

print(torch, torch.__version__)
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
model.load_state_dict(torch.load(os.path.join(workdir, "ours.pt")))
print(type(model[0].weight))
framework.compat.uninstall()
del torch, nn"""),
    ("md", """\
## Exchanging checkpoints with real PyTorch

When PyTorch is installed, the same script runs on it in this process, and each library loads the other's checkpoint
with `load_state_dict(strict=True)`. Without PyTorch this section says so and does nothing."""),
    ("code", """\
import importlib.util

HAVE_TORCH = importlib.util.find_spec("torch") is not None
if HAVE_TORCH:
    import runpy
    sys.argv = [script, os.path.join(workdir, "theirs.pt")]  # the script reads its output path from argv
    runpy.run_path(script, run_name="__main__")             # here, on the real torch
else:
    print("PyTorch is not installed: skipping the exchange with it")"""),
    ("code", """\
def net(lib):
    return lib.nn.Sequential(lib.nn.Linear(8, 32), lib.nn.Tanh(), lib.nn.Linear(32, 1))

if HAVE_TORCH:
    import torch as real_torch

    probe = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    for saved_by in ("theirs.pt", "ours.pt"):
        ours, theirs = net(framework), net(real_torch)
        ours.load_state_dict(framework.load(os.path.join(workdir, saved_by)), strict=True)
        theirs.load_state_dict(real_torch.load(os.path.join(workdir, saved_by)), strict=True)
        with framework.no_grad(), real_torch.no_grad():
            same = np.allclose(ours(framework.from_numpy(probe)).numpy(), theirs(real_torch.from_numpy(probe)).numpy(),
                               atol=1e-6)
        print(f"{saved_by} loaded by both libraries, same outputs: {same}")
        assert same"""),
    ("md", """\
## Differences to know

- **Devices**: `cpu` (numpy + Numba), `npu` (a simulated AI core, with `framework.npu.profile()`), and `cuda`
  through CuPy when a GPU and CuPy are present.
- **Random numbers**: on the CPU, `manual_seed` gives PyTorch's streams for `rand`, `randn`, `randperm`
  and the initialisers built on them: the script above ends at the same loss in both libraries.
- **Graph mode** is `framework.compile` (as `torch.compile`); `framework.jit.explain` reports what it did.
- **Not everything exists**: an argument PyTorch honours that the framework does not support raises
  `NotImplementedError` naming the argument; it is never silently ignored. A missing `torch.X` module is a
  `ModuleNotFoundError` saying so.

## How errors look

Bad input raises PyTorch's exception type with a message naming the op and the offending values."""),
    ("code", """\
def show(fn):
    try:
        fn()
    except Exception as error:
        print(f"{type(error).__name__}: {error}")

show(lambda: framework.ones(2, 3) @ framework.ones(2, 3))
show(lambda: framework.ones(2, 3) + framework.ones(3, 2))
show(lambda: framework.nn.Embedding(10, 4, sparse=True))
framework.compat.install()
show(lambda: __import__("torch.distributed"))
framework.compat.uninstall()"""),
    ("md", """\
Errors found during `backward()` name the operation and the line of user code that recorded it, not the
framework's internals (graph mode reports graph breaks the same way)."""),
    ("code", """\
def modified_in_place():
    a = framework.randn(3, requires_grad=True)
    b = a.sigmoid()
    b.mul_(2)                  # sigmoid's backward needs its output as it was
    b.sum().backward()

show(modified_in_place)"""),
]


def notebook(cells):
    """A notebook (nbformat 4, Python 3 kernel) of ``("md" | "code", source)`` cells, no outputs."""
    nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating does not churn the files
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main():
    """Write both notebooks next to this script."""
    for name, cells in (("quickstart.ipynb", QUICKSTART), ("porting_from_pytorch.ipynb", PORTING)):
        nb = notebook(cells)
        nbformat.validate(nb)
        nbformat.write(nb, os.path.join(HERE, name))
        print("wrote", os.path.join(HERE, name))


if __name__ == "__main__":
    main()
