"""framework.special against PyTorch: values in float64 and float32, edge values, gradients, errors."""
import math

import numpy as np
import pytest

import framework
from framework.autograd import gradcheck

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(0)
WIDE = np.concatenate([_rng.uniform(-40, 40, 200), _rng.uniform(-3, 3, 200), [0.0, -0.0, 1e-30, 17.0, 17.5]])
POSITIVE = np.abs(WIDE) + 1e-3
PROB = np.concatenate([_rng.uniform(0, 1, 200), 10.0 ** _rng.uniform(-300, -1, 50), [0.0, 0.5, 1.0]])

UNARY = [("i0e", WIDE), ("i1", WIDE[np.abs(WIDE) < 600]), ("i1e", WIDE), ("ndtr", WIDE), ("log_ndtr", WIDE),
         ("erfcx", WIDE), ("entr", WIDE), ("ndtri", PROB), ("bessel_j0", WIDE), ("bessel_j1", WIDE),
         ("bessel_y0", POSITIVE), ("bessel_y1", POSITIVE), ("modified_bessel_i0", WIDE), ("modified_bessel_i1", WIDE),
         ("modified_bessel_k0", POSITIVE), ("modified_bessel_k1", POSITIVE), ("scaled_modified_bessel_k0", POSITIVE),
         ("scaled_modified_bessel_k1", POSITIVE), ("spherical_bessel_j0", WIDE), ("airy_ai", WIDE[WIDE < 90])]


def _close(ours, theirs, rtol, atol):
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=atol, equal_nan=True)
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]


@pytest.mark.parametrize("name,values", UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_torch_float64(name, values):
    ours = getattr(framework.special, name)(framework.tensor(values, dtype=framework.float64))
    theirs = getattr(torch.special, name)(torch.tensor(values, dtype=torch.float64))
    # PyTorch's Bessel and Airy functions are only good to ~1e-6 absolute in float64 (ours are checked against mpmath
    # values in test_hand_values)
    loose = "bessel" in name or name == "airy_ai"
    _close(ours, theirs, 1e-5 if loose else 1e-9, 5e-6 if loose else 1e-9)


@pytest.mark.parametrize("name", ["i0e", "ndtr", "bessel_j0", "airy_ai", "modified_bessel_k1", "erfcx"])
def test_unary_float32_and_int_promotion(name):
    x = np.linspace(0.1, 5, 30).astype(np.float32)
    _close(getattr(framework.special, name)(framework.tensor(x)), getattr(torch.special, name)(torch.tensor(x)),
           2e-6, 1e-6)
    ints = framework.tensor([1, 2, 3])
    assert getattr(framework.special, name)(ints).dtype is framework.float32


def test_hand_values():
    s = framework.special
    assert s.ndtr(framework.tensor([0.0])).item() == 0.5
    assert s.ndtri(framework.tensor([0.5, 0.0, 1.0])).tolist() == [0.0, -math.inf, math.inf]
    assert abs(s.i0(framework.tensor([0.0])).item() - 1.0) == 0
    assert abs(s.zeta(framework.tensor([2.0], dtype=framework.float64), 1.0).item() - math.pi ** 2 / 6) < 1e-14
    assert abs(s.bessel_j0(framework.tensor([2.404825557695773], dtype=framework.float64)).item()) < 1e-14
    # reference values from mpmath (50 digits)
    f64 = framework.float64
    assert abs(s.bessel_j0(framework.tensor([-7.63585281427774], dtype=f64)).item() - 0.2457467773690794) < 1e-14
    assert abs(s.bessel_y1(framework.tensor([30.0], dtype=f64)).item() - 0.08442557066174700) < 1e-14
    assert abs(s.airy_ai(framework.tensor([-10.0], dtype=f64)).item() - 0.04024123848644319) < 1e-13


@pytest.mark.parametrize("name", ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
                                  "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
                                  "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
                                  "laguerre_polynomial_l", "legendre_polynomial_p"])
def test_polynomials(name):
    x = np.linspace(-1.5, 1.5, 13)
    n = np.array([-1.0, 0, 1, 2, 3, 5, 7, 9, 12, 2.5, 4, 6, 8])
    ours = getattr(framework.special, name)(framework.tensor(x, dtype=framework.float64),
                                           framework.tensor(n, dtype=framework.float64))
    theirs = getattr(torch.special, name)(torch.tensor(x), torch.tensor(n))
    _close(ours, theirs, 1e-10, 1e-10)
    scalar_n = getattr(framework.special, name)(framework.tensor(x.astype(np.float32)), 3)
    _close(scalar_n, getattr(torch.special, name)(torch.tensor(x.astype(np.float32)), 3), 1e-5, 1e-5)


def test_binary_special():
    a = _rng.uniform(0.1, 10, 50)
    b = _rng.uniform(0.1, 10, 50)
    for name in ("zeta", "xlog1py"):
        ours = getattr(framework.special, name)(framework.tensor(a + 1), framework.tensor(b))
        _close(ours, getattr(torch.special, name)(torch.tensor(a + 1), torch.tensor(b)), 1e-12, 1e-12)
    for name in ("igamma", "igammac"):
        _close(getattr(framework, name)(framework.tensor(a), framework.tensor(b)),
               getattr(torch, name)(torch.tensor(a), torch.tensor(b)), 1e-12, 1e-14)
    _close(framework.special.gammainc(framework.tensor(a), framework.tensor(b)),
           torch.special.gammainc(torch.tensor(a), torch.tensor(b)), 1e-12, 1e-14)


def test_mvlgamma_frexp_i0():
    x = _rng.uniform(3, 6, (3, 4))
    _close(framework.mvlgamma(framework.tensor(x), 3), torch.mvlgamma(torch.tensor(x), 3), 1e-12, 1e-12)
    _close(framework.special.multigammaln(framework.tensor(x), 2), torch.special.multigammaln(torch.tensor(x), 2),
           1e-12, 1e-12)
    m, e = framework.frexp(framework.tensor(x))
    tm, te = torch.frexp(torch.tensor(x))
    _close(m, tm, 0, 0)
    _close(e, te, 0, 0)
    assert framework.frexp(framework.tensor(x)).mantissa is not None
    _close(framework.i0(framework.tensor(x)), torch.i0(torch.tensor(x)), 1e-13, 0)
    t = framework.tensor(x.copy())
    t.i0_()
    _close(t, torch.i0(torch.tensor(x)), 1e-13, 0)


@pytest.mark.parametrize("name", ["i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "erfcx", "entr"])
def test_unary_gradients(name):
    values = _rng.uniform(0.1, 0.9, 6) if name in ("ndtri", "entr") else _rng.uniform(-3, 3, 6)
    x = framework.tensor(values, dtype=framework.float64, requires_grad=True)
    assert gradcheck(getattr(framework.special, name), (x,))


def test_binary_and_other_gradients():
    x = framework.tensor(_rng.uniform(0.5, 2, 5), dtype=framework.float64, requires_grad=True)
    y = framework.tensor(_rng.uniform(0.5, 2, 5), dtype=framework.float64, requires_grad=True)
    assert gradcheck(framework.special.xlog1py, (x, y))
    assert gradcheck(lambda q: framework.special.zeta(x.detach() + 1, q), (y,))
    assert gradcheck(lambda b: framework.igamma(x.detach(), b), (y,))
    assert gradcheck(lambda b: framework.igammac(x.detach(), b), (y,))
    assert gradcheck(lambda v: framework.mvlgamma(v + 2, 3), (x,))
    assert gradcheck(lambda v: framework.frexp(v).mantissa, (x,))
    assert gradcheck(framework.i0, (x,))


def test_errors_and_non_differentiable():
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        framework.frexp(framework.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        framework.mvlgamma(framework.tensor([2.5]), 0)
    with pytest.raises(NotImplementedError):
        framework.igamma(framework.tensor([1, 2]), framework.tensor([1, 2]))
    with pytest.raises(TypeError):
        framework.special.i0e([1.0])
    a = framework.tensor([2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="zeta"):
        framework.special.zeta(a, framework.tensor([1.5])).backward()
    with pytest.raises(NotImplementedError, match="igamma"):
        framework.igamma(a, framework.tensor([1.5])).backward()
    assert not framework.special.bessel_j0(a).requires_grad


def test_aliases():
    s = framework.special
    assert s.expit is framework.sigmoid and s.psi is framework.digamma and s.gammaln is framework.lgamma
    x = framework.tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(s.softmax(x, 1).numpy(), torch.special.softmax(torch.tensor([[1.0, 2, 3]]), 1).numpy())
