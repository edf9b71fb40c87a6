"""The example notebooks run top to bottom on a real Jupyter kernel without an error."""
import importlib.util
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
KERNEL = "python3"


def kernel_available():
    """Whether jupyter_client finds a ``python3`` kernel (an installed spec, or ipykernel's built-in one)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        return False
    return True


def run_notebook(name, monkeypatch):
    """Execute ``examples/name`` in a fresh kernel started in examples/ with the repository importable."""
    if not kernel_available():
        pytest.skip(f"no Jupyter kernel named {KERNEL!r}")
    # the kernel inherits this environment: the repository's packages, inline plots
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # one BLAS / OpenMP thread (ours and torch): on a busy 2-core machine a second thread makes small GEMMs
    # 10-50x slower
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(os.path.join(EXAMPLES, name), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=120,
                                     resources={"metadata": {"path": EXAMPLES}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    return nb


def outputs(cell):
    """All text a code cell produced: streams, plain results, html results."""
    text = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            text.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            text.extend(out["data"].get(kind, "") for kind in ("text/plain", "text/html"))
    return "".join(text)


def cell_after(nb, needle):
    """The first code cell whose source contains ``needle``."""
    return next(c for c in nb.cells if c.cell_type == "code" and needle in c.source)


def test_committed_notebooks_have_no_outputs():
    for name in ("quickstart.ipynb", "porting_from_pytorch.ipynb"):
        nb = nbformat.read(os.path.join(EXAMPLES, name), as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), name


def test_quickstart_runs(monkeypatch):
    nb = run_notebook("quickstart.ipynb", monkeypatch)
    assert "tensor([[0., 1., 2.]," in outputs(cell_after(nb, "x = torch.arange(6"))
    assert "test accuracy" in outputs(cell_after(nb, "losses = []"))
    plot = cell_after(nb, "plt.show()")
    assert any("image/png" in out.get("data", {}) for out in plot.outputs), "the loss plot was not drawn"
    assert "steps/s" in outputs(cell_after(nb, "compiled_step = torch.compile"))
    explained = outputs(cell_after(nb, "torch.jit.explain(train_step"))
    assert "explain(train_step)" in explained and "decision:" in explained
    assert "graph breaks (1)" in outputs(cell_after(nb, "def step_with_logging"))
    profile = cell_after(nb, "torch.npu.profile()")
    html = "".join(out.get("data", {}).get("text/html", "") for out in profile.outputs)
    assert "<table" in html and "linear" in html, "the NPU profile did not render as a table"
    assert "image/png" in cell_after(nb, "prof.timeline").outputs[0]["data"]


def test_porting_runs(monkeypatch):
    nb = run_notebook("porting_from_pytorch.ipynb", monkeypatch)
    assert "torch 2.13.0+framework: final loss" in outputs(cell_after(nb, '"-m", "framework.run"'))
    assert "alias of framework" in outputs(cell_after(nb, "framework.compat.install()\nimport torch"))
    errors = outputs(cell_after(nb, "def show(fn)"))
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in errors
    assert "NotImplementedError: Embedding: sparse=True" in errors
    assert "ModuleNotFoundError: No module named 'torch.distributed'" in errors
    backward_error = outputs(cell_after(nb, "def modified_in_place"))
    assert "modified by an inplace operation" in backward_error and "recorded at" in backward_error
    if importlib.util.find_spec("torch") is None:
        return
    assert outputs(cell_after(nb, "for saved_by in")).count("same outputs: True") == 2
