"""The generated fused kernels: every scalar op against its eager kernel, broadcasting layouts, out=, epilogues,
the on-disk cache across processes, and the CUDA source emitted from the same program."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kernels.cpu import KERNELS
from kernels.cpu import fused
from kernels.cpu.fused import SCALAR_OPS, fused_elementwise

# op -> (arguments by name, attrs); x, y, z: floats; c, d: bools
CASES = {
    "clamp": ("x", {"lo": -0.5, "hi": 0.7}), "hardtanh": ("x", {"lo": -1.0, "hi": 1.0}),
    "leaky_relu": ("x", {"slope": 0.1}), "elu": ("x", {"alpha": 1.3, "scale": 1.05, "input_scale": 0.9}),
    "softplus": ("x", {"beta": 2.0, "threshold": 5.0}), "gelu": ("x", {"approximate": "none"}),
    "gelu_backward": ("yx", {"approximate": "none"}), "threshold": ("x", {"threshold": 0.1, "value": -3.0}),
    "softshrink": ("x", {"lambd": 0.5}), "hardshrink": ("x", {"lambd": 0.5}),
    "where": ("cxy", {}), "lerp": ("xyz", {}), "logical_not": ("c", {}), "logical_and": ("cd", {}),
    "logical_or": ("cd", {}), "logical_xor": ("cd", {}),
}
EXTRA = [("gelu", "x", {"approximate": "tanh"}), ("gelu_backward", "yx", {"approximate": "tanh"})]


def _cases():
    out = []
    for name, spec in SCALAR_OPS.items():
        if name in ("cast", "const"):
            continue
        args, attrs = CASES.get(name, ("xyz"[:spec.arity], {}))
        out.append((name, args, attrs))
    return out + EXTRA


def _operands(dtype):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (6, 7)).astype(dtype)
    x[0, :5] = [0.0, 40.0, -40.0, 0.5, -1.0]  # overflow paths of exp/sigmoid/softplus, zeros, edges
    y = rng.uniform(-3, 3, (6, 7)).astype(dtype)
    y[1, :3] = [0.0, 2.0, -0.5]
    z = rng.uniform(0, 1, (6, 7)).astype(dtype)
    c, d = x > 0.3, y < 0.1
    return {"x": x, "y": y, "z": z, "c": c, "d": d}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_scalar_op_equals_its_eager_kernel(dtype):
    """One program computing every op of the vocabulary (one compile per dtype), each output against eager."""
    operands = _operands(dtype)
    names = list("xyzcd")
    in_dtypes = tuple(np.dtype(dtype).name if n in "xyz" else "bool" for n in names)
    ops, cases = [], _cases()
    for name, args, attrs in cases:
        spec = SCALAR_OPS[name]
        out_dtype = "bool" if spec.kind == "bool" else np.dtype(dtype).name
        ops.append((name, tuple(names.index(a) for a in args), tuple(attrs[p] for p in spec.params), out_dtype))
    program = (in_dtypes, tuple(ops), tuple(len(names) + k for k in range(len(ops))))
    results = fused_elementwise(*(operands[n] for n in names), program=program)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for (name, args, attrs), got in zip(cases, results):
        want = np.asarray(KERNELS[name](*(operands[a] for a in args), **attrs))
        assert got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True, err_msg=name)


def test_casts_and_literals():
    x = np.array([[-1.5, 0.0, 2.25]], np.float32)
    program = (("float32",), (("cast", (0,), (), "float64"), ("const", (), (0.1,), "float64"),
                              ("add", (1, 2), (), "float64"), ("cast", (0,), (), "bool"),
                              ("const", (), (float("-inf"),), "float32"), ("maximum", (0, 5), (), "float32")),
               (3, 4, 6))
    total, nonzero, same = fused_elementwise(x, program=program)
    np.testing.assert_array_equal(total, x.astype(np.float64) + 0.1)
    np.testing.assert_array_equal(nonzero, x != 0)
    np.testing.assert_array_equal(same, x)


ADD_MUL_EXP = (("float32", "float32", "float32"),
               (("add", (0, 1), (), "float32"), ("mul", (3, 2), (), "float32"), ("exp", (4,), (), "float32")),
               (5, 3))


def _check_layout(a, b, c):
    got_exp, got_sum = fused_elementwise(a, b, c, program=ADD_MUL_EXP)
    want_sum = a + b
    np.testing.assert_allclose(got_sum, want_sum, rtol=1e-6)
    np.testing.assert_allclose(got_exp, np.exp(want_sum * c), rtol=1e-6)
    assert got_sum.shape == np.broadcast_shapes(a.shape, b.shape, c.shape)


@pytest.mark.parametrize("shapes", [
    ((4, 5), (4, 5), (4, 5)),          # flat
    ((4, 5), (), (1, 1)),              # scalars
    ((4, 5), (5,), (4, 1)),            # row and column broadcasts
    ((2, 3, 4, 5), (3, 1, 5), (4, 1)),  # mixed, several dims
    ((1, 5), (4, 1), ()),               # the output is bigger than every input
    ((3, 0), (3, 1), ()),               # empty
])
def test_broadcast_layouts(shapes):
    rng = np.random.default_rng(1)
    _check_layout(*(rng.uniform(-1, 1, s).astype(np.float32) for s in shapes))


def test_non_contiguous_inputs():
    rng = np.random.default_rng(2)
    base = rng.uniform(-1, 1, (6, 8)).astype(np.float32)
    col = rng.uniform(-1, 1, (6, 1)).astype(np.float32)
    _check_layout(base.T, (base * 2).T, np.float32(0.5) * np.ones((8, 6), np.float32))  # transposed: copied
    _check_layout(base[:, ::2], base[:, 1::2], np.broadcast_to(col, (6, 4)))  # inner stride 2, expanded view
    _check_layout(base[::-1], base, col)  # negative strides


def test_long_flat_loop_is_chunked_and_parallel(monkeypatch):
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(-1, 1, 40_001).astype(np.float32) for _ in range(3))
    _check_layout(a, b, c)  # serial, more than one chunk
    monkeypatch.setattr(fused, "PARALLEL_MIN", 1000)
    monkeypatch.setattr(fused, "num_threads", lambda: 2)  # parallel code even where Numba runs one thread
    _check_layout(a, b, c)
    _check_layout(a[:40_000].reshape(200, 200), b[:200], c[:200, None])  # parallel over rows


def test_parallel_false_keeps_a_large_loop_serial(monkeypatch):
    rng = np.random.default_rng(5)
    a, b, c = (rng.uniform(-1, 1, 4000).astype(np.float32) for _ in range(3))
    monkeypatch.setattr(fused, "PARALLEL_MIN", 1000)
    monkeypatch.setattr(fused, "num_threads", lambda: 2)
    state = fused._compiled(ADD_MUL_EXP)
    state.kernels.clear()
    got = fused_elementwise(a, b, c, program=ADD_MUL_EXP, parallel=False)
    np.testing.assert_allclose(got[1], a + b, rtol=1e-6)
    assert [parallel for _, parallel in state.kernels] == [False]
    fused_elementwise(a, b, c, program=ADD_MUL_EXP)
    assert sorted(parallel for _, parallel in state.kernels) == [False, True]


def test_out_buffers():
    rng = np.random.default_rng(4)
    a, b, c = (rng.uniform(-1, 1, (3, 4)).astype(np.float32) for _ in range(3))
    out = (np.empty((3, 4), np.float32), np.empty((3, 4), np.float32))
    got = fused_elementwise(a, b, c, program=ADD_MUL_EXP, out=out)
    assert got[0] is out[0] and got[1] is out[1]
    np.testing.assert_allclose(out[1], a + b, rtol=1e-6)
    got = fused_elementwise(a, b, c, program=ADD_MUL_EXP, out=(None, out[0]))
    assert got[1] is out[0] and got[0] is not out[1]
    with pytest.raises(ValueError, match="out\\[0\\]"):
        fused_elementwise(a, b, c, program=ADD_MUL_EXP, out=(np.empty((4, 3), np.float32), None))
    with pytest.raises(ValueError, match="2 outputs"):
        fused_elementwise(a, b, c, program=ADD_MUL_EXP, out=out[0])


def test_gemm_epilogue_runs_on_the_product(monkeypatch):
    products = []
    linear = KERNELS["linear"]
    monkeypatch.setitem(KERNELS, "linear", lambda *a: products.append(linear(*a)) or products[-1])
    rng = np.random.default_rng(5)
    x, w, bias = rng.standard_normal((8, 16)), rng.standard_normal((32, 16)), rng.standard_normal(32)
    x, w, bias = (a.astype(np.float32) for a in (x, w, bias))
    program = (("float32", "float32"), (("add", (0, 1), (), "float32"), ("relu", (2,), (), "float32")), (3,))
    got = fused_elementwise(x, w, bias, program=program, prologue=("linear", (), 2))
    np.testing.assert_allclose(got, np.maximum(x @ w.T + bias, 0), rtol=1e-5, atol=1e-6)
    # a loop writing over its own input would not vectorise: the result gets its own buffer
    assert len(products) == 1 and not np.shares_memory(got, products[0])
    total = fused_elementwise(x, bias[:1], program=program, prologue=("sum", (("dims", (1,)), ("keepdim", True)), 1))
    np.testing.assert_allclose(total, np.maximum(x.sum(1, keepdims=True) + bias[:1], 0), rtol=1e-5)


def test_out_buffer_that_is_an_input():
    x = np.linspace(-3, 3, 4096, dtype=np.float32)
    program = (("float32",), (("gelu", (0,), ("none",), "float32"),), (1,))
    want = fused_elementwise(x, program=program)
    buf = x.copy()
    assert fused_elementwise(buf, program=program, out=buf) is buf
    np.testing.assert_array_equal(buf, want)


def test_wrong_input_count_is_refused():
    with pytest.raises(ValueError, match="takes 3 inputs, got 2"):
        fused_elementwise(np.ones(3, np.float32), np.ones(3, np.float32), program=ADD_MUL_EXP)


def test_generated_module_is_reused_by_a_new_process(tmp_path):
    """The source goes to the cache directory, so Numba's cache=True serves a second process from disk."""
    script = textwrap.dedent("""
        import numpy as np
        from kernels.cpu import fused
        program = (("float32",), (("sin", (0,), (), "float32"), ("mul", (1, 0), (), "float32")), (2,))
        x = np.linspace(-1, 1, 10, dtype=np.float32)
        assert np.allclose(fused.fused_elementwise(x, program=program), np.sin(x) * x)
        (kernel,) = fused._compiled(program).kernels.values()
        print(sum(kernel.stats.cache_hits.values()))
    """)
    env = dict(os.environ, FRAMEWORK_FUSED_CACHE=str(tmp_path))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True)
            for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert int(runs[0].stdout.strip()) == 0
    assert int(runs[1].stdout.strip()) >= 1
    assert any(name.endswith(".py") for name in os.listdir(tmp_path))


# ----- CUDA source ---------------------------------------------------------------------------------
def test_cuda_module_imports_without_cupy_and_covers_the_vocabulary():
    from kernels.cuda import fused as cuda_fused
    assert set(cuda_fused.SCALAR_OPS) == set(SCALAR_OPS)


def test_cuda_source_of_a_dag():
    from kernels.cuda.fused import kernel_source
    program = (("float32", "float32", "bool"),
               (("add", (0, 1), (), "float32"), ("gelu", (3,), ("none",), "float32"),
                ("const", (), (1e-5,), "float32"), ("gt", (4, 5), (), "bool"), ("where", (2, 4, 0), (), "float32"),
                ("const", (), (float("inf"),), "float64"), ("cast", (7,), (), "float64"),
                ("minimum", (9, 8), (), "float64")),
               (4, 6, 10))
    in_params, out_params, body, name = kernel_source(program)
    assert in_params == "float32 a0, float32 a1, bool a2"
    assert out_params == "float32 o0, bool o1, float64 o2"
    assert name.startswith("fused_") and name == kernel_source(program)[3]
    lines = body.splitlines()
    assert lines[:3] == ["float v0 = a0;", "float v1 = a1;", "bool v2 = a2;"]
    assert "float v3 = (float)(v0 + v1);" in lines
    assert "float v4 = (float)0.5 * v3 * ((float)1 + (float)erf(v3 * ((float)0.7071067811865476)));" in lines
    assert "bool v6 = v4 > v5;" in lines
    assert "float v7 = v2 ? v4 : v0;" in lines
    assert "double v8 = ((double)__longlong_as_double(0x7ff0000000000000LL));" in lines
    assert "double v9 = (double)v7;" in lines
    assert "double v10 = ((v9 <= v8 || v9 != v9) ? v9 : v8);" in lines
    assert lines[-3:] == ["o0 = v4;", "o1 = v6;", "o2 = v10;"]
    assert body.count("(") == body.count(")")


def test_cuda_source_of_every_op_is_balanced():
    from kernels.cuda.fused import kernel_source
    for name, args, attrs in _cases():
        spec = SCALAR_OPS[name]
        in_dtypes = tuple("bool" if a in "cd" else "float32" for a in args)
        out = "bool" if spec.kind == "bool" else "float32"
        program = (in_dtypes, ((name, tuple(range(len(args))), tuple(attrs[p] for p in spec.params), out),),
                   (len(args),))
        body = kernel_source(program)[2]
        assert body.count("(") == body.count(")"), name
        assert body.rstrip().endswith(f"o0 = v{len(args)};"), name


# ----- the vectorised float32 erf (and the exp it uses) ---------------------------------------------
def _float32_erf_reference(x):
    import math
    return np.array([math.erf(v) for v in x.astype(np.float64)]).astype(np.float32)


def _ulps(a, b):
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


def test_float32_erf_is_within_an_ulp_of_the_rounded_libm_value_over_a_dense_range():
    # every 1024th float32 in [0, 4.5] and a dense grid (both signs) plus the branch edges: at most 1 ulp from
    # float64 libm rounded to float32 (PyTorch's vectorised erf has the same bound), and mostly equal to it
    positive = np.concatenate([np.arange(0, np.float32(4.5).view(np.int32), 1024, dtype=np.int32).view(np.float32),
                               np.linspace(0, 4.5, 500_001, dtype=np.float32)])
    edges = np.array([1.0, 1.6, 3.92, 3.9192064, 3.9192054, 1e-30, 1e-45], np.float32)
    edges = np.concatenate([edges, np.nextafter(edges, np.float32(0)), np.nextafter(edges, np.float32(9))])
    x = np.concatenate([positive, -positive, edges, -edges])
    got = fused_elementwise(x, program=(("float32",), (("erf", (0,), (), "float32"),), (1,)))
    ref = _float32_erf_reference(x)
    assert _ulps(got, ref).max() <= 1
    assert (got == ref).mean() > 0.95
    assert np.array_equal(np.signbit(got), np.signbit(ref))  # -0.0 stays -0.0


def test_float32_erf_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3e38, -3e38, 4.0, 10.0], np.float32)
    got = fused_elementwise(x, program=(("float32",), (("erf", (0,), (), "float32"),), (1,)))
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], [1, -1, 0, -0.0, 1, -1, 1, 1])
    assert np.signbit(got[4]) and not np.signbit(got[3])


def test_float32_gelu_backward_exp_tails():
    # exp(-x*x/2) from the vectorised exp: 0 far out (no overflow, no NaN); NaN and +-inf give NaN, as torch
    x = np.array([-1e30, -60.0, -20.0, -5.0, 0.5, 20.0, 1e30, np.nan, np.inf, -np.inf], np.float32)
    g = np.ones_like(x)
    program = (("float32", "float32"), (("gelu_backward", (0, 1), ("none",), "float32"),), (2,))
    got = fused_elementwise(g, x, program=program)
    want = KERNELS["gelu_backward"](g, x, approximate="none")  # eager float32: numpy's exp, the same erf
    np.testing.assert_allclose(got[:7], want[:7], rtol=1e-6, atol=1e-30)
    np.testing.assert_array_equal(got[:3], 0)
    assert np.isnan(got[7:]).all()


def test_eager_float32_erf_and_gelu_use_the_same_bits_as_fused_programs():
    from kernels.cpu import activation
    x = np.random.default_rng(3).standard_normal((64, 33)).astype(np.float32) * 3
    fused_gelu = fused_elementwise(x, program=(("float32",), (("gelu", (0,), ("none",), "float32"),), (1,)))
    np.testing.assert_array_equal(KERNELS["gelu"](x, approximate="none"), fused_gelu)
    half = x.astype(np.float16)
    np.testing.assert_array_equal(activation.erf(half), activation.erf(half.astype(np.float32)).astype(np.float16))
    assert activation.erf(half).dtype == np.float16


@pytest.mark.parametrize("name", ["exp", "sigmoid", "silu", "gelu"])
def test_float32_exp_based_ops_over_the_whole_range(name):
    # the vectorised exp: numpy's float32 results to 5e-7 over [-120, 100] (exp itself to 2 ulp), overflow to
    # inf, underflow to 0, NaN kept
    x = np.concatenate([np.linspace(-120, 100, 200_001, dtype=np.float32),
                        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, 88.73, -103.9, -104.0], np.float32)])
    attrs = {"approximate": "tanh"} if name == "gelu" else {}
    params = tuple(attrs.values())
    got = fused_elementwise(x, program=(("float32",), ((name, (0,), params, "float32"),), (1,)))
    with np.errstate(all="ignore"):
        want = KERNELS[name](x, **attrs) if name != "exp" else np.exp(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=5e-7, atol=1e-37)
    if name == "exp":
        finite = ~np.isnan(want)
        assert _ulps(got[finite], want[finite]).max() <= 2
