"""nn.init against torch: same seed, same values (bit for bit where the RNG is the only source), same errors."""
import math
import warnings

import numpy as np
import pytest

import framework
import framework.nn as nn

torch = pytest.importorskip("torch")

SHAPES = [(5, 3), (4, 3, 2, 2), (6, 2, 3)]

CASES = [
    ("uniform_", {"a": -0.5, "b": 2.0}),
    ("normal_", {"mean": 1.0, "std": 0.3}),
    ("xavier_uniform_", {"gain": 1.5}),
    ("xavier_normal_", {}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_in"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}),
    ("trunc_normal_", {"mean": 0.2, "std": 0.5, "a": -0.5, "b": 1.0}),
    ("trunc_normal_", {"mean": 0.0, "std": 1.0, "a": 1.5, "b": 2.5}),
    ("trunc_normal_", {}),
    ("constant_", {"val": 0.25}),
    ("ones_", {}),
    ("zeros_", {}),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_init_matches_torch(name, kwargs, shape):
    framework.manual_seed(3)
    ours = getattr(nn.init, name)(framework.empty(*shape), **kwargs)
    torch.manual_seed(3)
    theirs = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs)
    assert np.array_equal(ours.numpy(), theirs.numpy())


def test_init_with_generator_and_float64():
    g1, g2 = framework.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    ours = nn.init.kaiming_uniform_(framework.empty(4, 5, dtype=framework.float64), generator=g1)
    theirs = torch.nn.init.kaiming_uniform_(torch.empty(4, 5, dtype=torch.float64), generator=g2)
    assert np.array_equal(ours.numpy(), theirs.numpy())


def test_init_on_parameter_is_not_recorded():
    p = nn.Parameter(framework.empty(3, 4))
    out = nn.init.xavier_uniform_(p)
    assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad


@pytest.mark.parametrize("shape", [(3, 3), (4, 6), (6, 4), (4, 2, 3)])
def test_orthogonal_matches_torch(shape):
    framework.manual_seed(7)
    ours = nn.init.orthogonal_(framework.empty(*shape), gain=2.0)
    torch.manual_seed(7)
    theirs = torch.nn.init.orthogonal_(torch.empty(*shape), gain=2.0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)
    flat = ours.numpy().reshape(shape[0], -1) / 2.0
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


def test_sparse_matches_torch():
    framework.manual_seed(2)
    ours = nn.init.sparse_(framework.empty(10, 4), sparsity=0.3, std=0.5)
    torch.manual_seed(2)
    theirs = torch.nn.init.sparse_(torch.empty(10, 4), sparsity=0.3, std=0.5)
    assert np.array_equal(ours.numpy(), theirs.numpy())
    assert all((ours.numpy()[:, c] == 0).sum() >= 3 for c in range(4))


@pytest.mark.parametrize("shape,groups", [((3, 3, 3), 1), ((4, 2, 3, 3), 2), ((2, 4, 3, 3, 3), 1), ((6, 3, 3, 3), 3)])
def test_eye_and_dirac_match_torch(shape, groups):
    ours = nn.init.dirac_(framework.empty(*shape), groups)
    theirs = torch.nn.init.dirac_(torch.empty(*shape), groups)
    assert np.array_equal(ours.numpy(), theirs.numpy())
    assert np.array_equal(nn.init.eye_(framework.empty(3, 5)).numpy(), torch.nn.init.eye_(torch.empty(3, 5)).numpy())


def test_calculate_gain_matches_torch():
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def _error(fn):
    try:
        fn()
    except Exception as e:
        return type(e), str(e)
    return None


def test_errors_match_torch():
    cases = [
        lambda lib: lib.nn.init.calculate_gain("swish"),
        lambda lib: lib.nn.init.calculate_gain("leaky_relu", True),
        lambda lib: lib.nn.init.xavier_uniform_(lib.empty(3)),
        lambda lib: lib.nn.init.kaiming_normal_(lib.empty(3, 2), mode="fan_avg"),
        lambda lib: lib.nn.init.eye_(lib.empty(2, 2, 2)),
        lambda lib: lib.nn.init.dirac_(lib.empty(2, 2)),
        lambda lib: lib.nn.init.dirac_(lib.empty(3, 2, 2), groups=2),
        lambda lib: lib.nn.init.orthogonal_(lib.empty(3)),
        lambda lib: lib.nn.init.sparse_(lib.empty(3, 2, 2), 0.1),
    ]
    for case in cases:
        assert _error(lambda: case(framework)) == _error(lambda: case(torch))


def test_warnings():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(framework.empty(0, 3))
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        nn.init.trunc_normal_(framework.empty(3), mean=10.0)
    with pytest.warns(FutureWarning, match="deprecated in favor of `nn.init.normal_`"):
        nn.init.normal(framework.empty(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.init.orthogonal_(framework.empty(0, 3))
