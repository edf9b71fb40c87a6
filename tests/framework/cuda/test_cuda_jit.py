"""Graph mode on device "cuda": compiled training steps replay through the cuda kernel table, and the fusion
pass's generated CUDA kernels compile.

Replay runs on the numpy stand-in device (``conftest.numpy_cuda``) with a spy in the table's
``fused_elementwise`` slot; the CUDA C that ``kernels/cuda/fused.py`` generates for the fused chains of an
MLP and a GPT block is compiled with NVRTC (skipped without it). Running those kernels needs a GPU.
"""
import re

import numpy as np
import pytest

import framework
from framework import nn

F = nn.functional


class Block(nn.Module):
    """A GPT-2 MLP block: LayerNorm, Linear, tanh-GELU, Linear, residual."""

    def __init__(self, d=16):
        super().__init__()
        self.ln, self.fc, self.proj = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        return x + self.proj(F.gelu(self.fc(self.ln(x)), approximate="tanh"))


def _model(kind, device):
    framework.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 16), nn.SiLU(), nn.Linear(16, 16))
    else:
        model = nn.Sequential(Block(), Block())
    model = model.to(device)
    return model, framework.optim.AdamW(model.parameters(), lr=1e-2)


def _step(model, opt):
    def step(x, t):
        opt.zero_grad()
        loss = ((model(x) - t) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    return step


def _compiled_step(kind, device):
    model, opt = _model(kind, device)
    return framework.compile(_step(model, opt)), model


@pytest.mark.parametrize("kind", ["mlp", "gpt"])
def test_compiled_training_step_replays_through_the_cuda_table(kind, numpy_cuda):
    from kernels.cpu.fused import fused_elementwise as run_on_host
    calls = []

    def spy(*arrays, **attrs):
        calls.append(sorted(attrs))
        return run_on_host(*arrays, **attrs)
    numpy_cuda["fused_elementwise"] = spy
    gen = np.random.default_rng(0)
    x = framework.tensor(gen.standard_normal((32, 8 if kind == "mlp" else 16)), dtype=framework.float32)
    t = framework.tensor(gen.standard_normal((32, 16)), dtype=framework.float32)
    model, opt = _model(kind, "cpu")
    expected = [_step(model, opt)(x, t).item() for _ in range(4)]
    step, cuda_model = _compiled_step(kind, "cuda")
    xc, tc = x.to("cuda"), t.to("cuda")
    losses = [step(xc, tc) for _ in range(4)]
    assert all(loss.device.type == "cuda" for loss in losses)
    assert all(p.device.type == "cuda" and p.grad.device.type == "cuda" for p in cuda_model.parameters())
    np.testing.assert_allclose([loss.item() for loss in losses], expected, rtol=1e-5)
    assert step.entries and not any(entry.eager for entry in step.entries)  # no graph break on cuda
    assert calls and all(names == ["program"] for names in calls)  # the CPU kernel's attrs, unchanged


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception:  # no CuPy, or CuPy without the NVRTC library
        pytest.skip("NVRTC (cupy) is not available")


def _standalone(program):
    """A complete CUDA C kernel around ``kernel_source(program)`` (one element per thread, no broadcasting)."""
    from kernels.cuda.fused import kernel_source
    in_params, out_params, body, name = kernel_source(program)
    # CuPy's parameter lists name numpy dtypes; the body already uses C types
    ctype = {"float32": "float", "float64": "double", "bool": "bool", "int32": "int", "int64": "long long"}
    ins = [(ctype[t], n) for t, n in (p.rsplit(" ", 1) for p in in_params.split(", "))]
    outs = [(ctype[t], n) for t, n in (p.rsplit(" ", 1) for p in out_params.split(", "))]
    args = ", ".join([f"const {t}* {n}_p" for t, n in ins] + [f"{t}* {n}_p" for t, n in outs])
    loads = " ".join(f"const {t} {n} = {n}_p[i];" for t, n in ins)
    decls = " ".join(f"{t} {n};" for t, n in outs)
    stores = " ".join(f"{n}_p[i] = {n};" for _, n in outs)
    return (f'extern "C" __global__ void {name}(long long total, {args}) {{\n'
            f"for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; "
            f"i += (long long)blockDim.x * gridDim.x) {{\n{loads}\n{decls}\n{{\n{body}\n}}\n{stores}\n}}\n}}\n")


@pytest.mark.parametrize("kind", ["mlp", "gpt"])
def test_fused_chains_compile_with_nvrtc(kind, numpy_cuda):
    _nvrtc()
    from kernels.cuda._raw import compile_source
    step, _ = _compiled_step(kind, "cuda")
    x = framework.randn(4, 8 if kind == "mlp" else 16).to("cuda")
    step(x, framework.randn(4, 16).to("cuda"))
    programs = {node.attrs["program"] for e in step.entries for node in e.graph.nodes
                if node.kernel == "fused_elementwise"}
    assert programs, "the fusion pass formed no group on cuda"
    ops = {op[0] for p in programs for op in p[1]}
    assert ("gelu" in ops or "gelu_backward" in ops) and len(programs) >= 2
    for program in programs:
        ptx = compile_source(_standalone(program), np.float32)
        assert re.search(rb"\.entry\s+fused_", ptx)
