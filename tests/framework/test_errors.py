"""Bad input raises PyTorch's exception type, with a message naming the offending values."""
import pytest

import framework

torch = pytest.importorskip("torch")

# (description, call(lib)) pairs: each must raise in torch and in framework with the same exception type
BAD_CALLS = [
    ("non-broadcastable add", lambda m: m.ones(2, 3) + m.ones(4)),
    ("matmul inner mismatch", lambda m: m.ones(2, 3) @ m.ones(4, 5)),
    ("mm dtype mismatch", lambda m: m.mm(m.ones(2, 2), m.ones(2, 2, dtype=m.float64))),
    ("dim out of range", lambda m: m.ones(2, 3).sum(5)),
    ("negative dim out of range", lambda m: m.ones(2, 3).softmax(-3)),
    ("index out of range", lambda m: m.ones(3)[5]),
    ("gather index dtype", lambda m: m.gather(m.ones(3), 0, m.tensor([0.0]))),
    ("view incompatible", lambda m: m.ones(2, 3).t().view(6)),
    ("reshape wrong numel", lambda m: m.ones(2, 3).reshape(4, 2)),
    ("cat rank mismatch", lambda m: m.cat([m.ones(2, 3), m.ones(3)])),
    ("cat size mismatch", lambda m: m.cat([m.ones(2, 3), m.ones(2, 4)])),
    ("stack shape mismatch", lambda m: m.stack([m.ones(2), m.ones(3)])),
    ("mean of integers", lambda m: m.arange(4).mean()),
    ("requires_grad on ints", lambda m: m.arange(4).requires_grad_()),
    ("item of many", lambda m: m.ones(3).item()),
    ("bool of many", lambda m: bool(m.ones(3))),
    ("expand bad size", lambda m: m.ones(2, 3).expand(4, 3)),
    ("permute wrong length", lambda m: m.ones(2, 3).permute(0)),
    ("squeeze dim out of range", lambda m: m.ones(2, 1).squeeze(3)),
    ("index_select dim", lambda m: m.index_select(m.ones(2, 3), 2, m.tensor([0]))),
    ("masked_fill mask dtype", lambda m: m.ones(3).masked_fill(m.ones(3), 0.0)),
    ("where condition dtype", lambda m: m.where(m.ones(3), m.ones(3), m.zeros(3))),
    ("cross_entropy target shape", lambda m: m.nn.functional.cross_entropy(m.ones(4, 3), m.zeros(5, dtype=m.long))),
    ("linear shapes", lambda m: m.nn.functional.linear(m.ones(2, 3), m.ones(4, 5))),
    ("conv2d channels", lambda m: m.nn.functional.conv2d(m.ones(1, 4, 5, 5), m.ones(8, 3, 3, 3))),
    ("randint empty range", lambda m: m.randint(5, 3, (2,))),
    ("zeros negative size", lambda m: m.zeros(-1)),
    ("in-place on leaf requiring grad", lambda m: m.ones(2, requires_grad=True).add_(1)),
    ("backward on non-scalar", lambda m: (m.ones(2, requires_grad=True) * 2).backward()),
    ("float into long in place", lambda m: m.zeros(2, dtype=m.long).add_(m.ones(2) * 0.5)),
    ("sub of bools", lambda m: m.ones(2, dtype=m.bool) - m.ones(2, dtype=m.bool)),
    ("embedding index out of range", lambda m: m.nn.functional.embedding(m.tensor([5]), m.ones(3, 2))),
]


def _raised(call, lib):
    try:
        call(lib)
    except Exception as exc:  # noqa: BLE001 - the type is what we compare
        return exc
    return None


@pytest.mark.parametrize("name,call", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_same_exception_type_as_torch(name, call):
    expected = _raised(call, torch)
    assert expected is not None, f"torch accepted {name}"
    got = _raised(call, framework)
    assert got is not None, f"framework accepted {name}; torch raised {type(expected).__name__}: {expected}"
    assert isinstance(got, type(expected)) or type(expected).__name__ == type(got).__name__, (
        f"{name}: torch raised {type(expected).__name__}({expected}), framework {type(got).__name__}({got})")
    assert "numpy" not in str(got).lower(), f"{name}: message leaks numpy internals: {got}"


def test_shape_error_names_both_sizes():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\)"):
        framework.ones(2, 3) + framework.ones(4)


def test_matmul_error_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"2x3.*4x5"):
        framework.mm(framework.ones(2, 3), framework.ones(4, 5))
