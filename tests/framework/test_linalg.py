"""framework.linalg: norms, inv/det/slogdet/solve and decompositions against torch; float64 gradchecks of
their derivatives; PyTorch's errors."""
import numpy as np
import pytest

import framework
import framework.linalg as LA
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
INF = float("inf")


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def well_conditioned(*shape):
    """Random square matrices kept away from singularity."""
    n = shape[-1]
    return arr(*shape) + 3 * np.eye(n)


def spd(*shape):
    a = arr(*shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def fw(a, requires_grad=False):
    return framework.tensor(a, requires_grad=requires_grad)


def assert_close(ours, ref, rtol=1e-5, atol=1e-6):
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=atol, equal_nan=True)


VECTOR_CASES = [(2, None, False), (1, 1, True), (INF, (0, 1), False), (-INF, -1, False), (0, None, False),
                (0.5, 0, True), (3.5, (0, 2), False), (-2.1, 2, False)]


@pytest.mark.parametrize("ord,dim,keepdim", VECTOR_CASES)
def test_vector_norm(ord, dim, keepdim):
    x = arr(3, 4, 5)
    ours = LA.vector_norm(fw(x), ord, dim, keepdim)
    ref = torch.linalg.vector_norm(torch.tensor(x), ord, dim, keepdim)
    assert_close(ours, ref)
    if ord != 0:
        assert gradcheck(lambda t: LA.vector_norm(t, ord, dim, keepdim), (fw(x, True),))


def test_vector_norm_subgradient_at_zero_and_dtype():
    for ord in (2, 1, 3.0, INF):
        x = framework.zeros(4, requires_grad=True)
        LA.vector_norm(x, ord).backward()
        t = torch.zeros(4, requires_grad=True)
        torch.linalg.vector_norm(t, ord).backward()
        assert_close(x.grad, t.grad)
    x = arr(4, dtype=np.float32)
    assert_close(LA.vector_norm(fw(x), dtype=framework.float64),
                 torch.linalg.vector_norm(torch.tensor(x), dtype=torch.float64))
    assert LA.vector_norm(fw(np.float32(3.0))).item() == 3.0
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        LA.vector_norm(framework.ones(3, dtype=framework.int64))
    assert gradgradcheck(lambda t: LA.vector_norm(t, 3.0), (fw(arr(5), True),))


@pytest.mark.parametrize("ord", ["fro", "nuc", INF, -INF, 1, -1, 2, -2])
def test_matrix_norm_and_norm(ord):
    x = arr(2, 4, 3)
    ours = LA.matrix_norm(fw(x), ord)
    assert_close(ours, torch.linalg.matrix_norm(torch.tensor(x), ord))
    assert_close(LA.norm(fw(x[0]), ord, keepdim=True), torch.linalg.norm(torch.tensor(x[0]), ord, keepdim=True))
    assert_close(LA.norm(fw(x), ord, dim=(0, 2)), torch.linalg.norm(torch.tensor(x), ord, dim=(0, 2)))
    assert gradcheck(lambda t: LA.matrix_norm(t, ord), (fw(x, True),))


def test_norm_dispatch():
    x = arr(2, 3, 4)
    for kwargs in ({}, {"dim": 1}, {"ord": 3, "dim": -1}, {"dim": (0, 1)}, {"keepdim": True}):
        assert_close(LA.norm(fw(x), **kwargs), torch.linalg.norm(torch.tensor(x), **kwargs))
    assert_close(LA.norm(fw(x[0, 0]), 1), torch.linalg.norm(torch.tensor(x[0, 0]), 1))
    with pytest.raises(RuntimeError, match="must be 1D or 2D"):
        LA.norm(fw(x), 2)
    for shape, ord in (((0, 0), "nuc"), ((5, 0), INF), ((0, 5), 1), ((5, 0), 2)):
        assert_close(LA.norm(framework.zeros(*shape), ord), torch.linalg.norm(torch.zeros(*shape), ord))


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (1, 1)])
def test_inv_det_slogdet(shape):
    a = well_conditioned(*shape)
    a[..., 0, :] *= -1  # some negative determinants
    t = torch.tensor(a)
    assert_close(LA.inv(fw(a)), torch.linalg.inv(t))
    assert_close(framework.inverse(fw(a)), torch.inverse(t))
    assert_close(LA.det(fw(a)), torch.linalg.det(t))
    assert_close(fw(a).det(), t.det())
    sign, logabs = LA.slogdet(fw(a))
    ref = torch.linalg.slogdet(t)
    assert_close(sign, ref.sign)
    assert_close(LA.slogdet(fw(a)).logabsdet, ref.logabsdet)
    assert_close(framework.logdet(fw(a)), torch.logdet(t))
    for fn in (LA.inv, LA.det, lambda m: LA.slogdet(m)[1]):
        assert gradcheck(fn, (fw(a, True),))
    assert gradgradcheck(LA.inv, (fw(a, True),))


def test_empty_and_errors():
    assert_close(LA.det(framework.zeros(3, 0, 0)), torch.linalg.det(torch.zeros(3, 0, 0)))
    assert_close(LA.inv(framework.zeros(0, 2, 2)), torch.linalg.inv(torch.zeros(0, 2, 2)))
    with pytest.raises(RuntimeError, match="must be batches of square matrices, but they are 2 by 3 matrices"):
        LA.inv(framework.ones(2, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        LA.det(framework.ones(3))
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        LA.inv(framework.ones(2, 2, dtype=framework.int64))
    with pytest.raises(LA.LinAlgError, match="linalg.inv"):
        LA.inv(framework.zeros(2, 2))
    assert issubclass(LA.LinAlgError, RuntimeError)


@pytest.mark.parametrize("sa,sb", [((5, 5), (5,)), ((5, 5), (5, 3)), ((2, 4, 4), (4, 1)), ((2, 4, 4), (2, 4)),
                                   ((1, 3, 3), (2, 3, 2))])
def test_solve(sa, sb):
    a, b = well_conditioned(*sa), arr(*sb)
    ours = LA.solve(fw(a), fw(b))
    assert_close(ours, torch.linalg.solve(torch.tensor(a), torch.tensor(b)))
    assert gradcheck(LA.solve, (fw(a, True), fw(b, True)))


def test_solve_left_false_and_errors():
    a, b = well_conditioned(3, 3), arr(2, 3)
    assert_close(LA.solve(fw(a), fw(b), left=False), torch.linalg.solve(torch.tensor(a), torch.tensor(b), left=False))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        LA.solve(fw(a), fw(arr(4, 2)))
    with pytest.raises(RuntimeError, match="same dtype"):
        LA.solve(fw(a), fw(b.astype(np.float32)))


def test_cholesky():
    a = spd(2, 4, 4)
    for upper in (False, True):
        assert_close(LA.cholesky(fw(a), upper=upper), torch.linalg.cholesky(torch.tensor(a), upper=upper))
        # the derivative is taken with respect to a symmetric input
        eye = framework.eye(4, dtype=framework.float64)
        assert gradcheck(lambda m: LA.cholesky(m @ m.mT + 4 * eye, upper=upper), (fw(arr(4, 4), True),))
    with pytest.raises(LA.LinAlgError, match="positive-definite"):
        LA.cholesky(fw(-np.eye(3)))


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (3, 5), (2, 4, 3)])
def test_qr(shape):
    a = arr(*shape)
    Q, R = LA.qr(fw(a))
    rq, rr = torch.linalg.qr(torch.tensor(a))
    assert_close(Q, rq)
    assert_close(R, rr)
    assert gradcheck(lambda m: LA.qr(m), (fw(a, True),))


def test_eigh_and_svd():
    a = arr(4, 4)
    s = a + a.T
    w, V = LA.eigh(fw(s))
    rw, rV = torch.linalg.eigh(torch.tensor(s))
    assert_close(w, rw)
    assert_close(V.abs(), rV.abs())  # eigenvectors up to sign
    # a gauge-invariant function of the eigenvectors of a symmetric input
    assert gradcheck(lambda m: LA.eigh(m + m.mT)[1].pow(2).sum(-1) + LA.eigh(m + m.mT)[0], (fw(a, True),))
    b = arr(5, 3)
    U, S, Vh = LA.svd(fw(b), full_matrices=False)
    assert_close(S, torch.linalg.svdvals(torch.tensor(b)))
    np.testing.assert_allclose((U * S.unsqueeze(-2) @ Vh).numpy(), b, atol=1e-10)
    for full in (False, True):
        assert gradcheck(lambda m: (LA.svd(m, full_matrices=full)[0][..., :3] @ LA.svd(m, full_matrices=full)[2][:3],
                                    LA.svd(m, full_matrices=full)[1]), (fw(b, True),))
    assert gradcheck(LA.svdvals, (fw(b.T.copy(), True),))


def test_pinv_rank_power_multi_dot():
    a = arr(4, 3)
    assert_close(LA.pinv(fw(a)), torch.linalg.pinv(torch.tensor(a)))
    low = arr(4, 2) @ arr(2, 4)
    assert LA.matrix_rank(fw(low)).item() == 2 and LA.matrix_rank(fw(low)).dtype is framework.int64
    assert LA.matrix_rank(fw(low + low.T), hermitian=True).item() == torch.linalg.matrix_rank(
        torch.tensor(low + low.T), hermitian=True).item()
    m = well_conditioned(2, 3, 3)
    for n in (0, 1, 3, -2):
        assert_close(LA.matrix_power(fw(m), n), torch.linalg.matrix_power(torch.tensor(m), n))
        assert gradcheck(lambda t: LA.matrix_power(t, n), (fw(m, True),))
    assert_close(fw(m).matrix_power(2), torch.tensor(m).matrix_power(2))
    mats = [arr(3), arr(3, 4), arr(4, 2), arr(2)]
    assert_close(LA.multi_dot([fw(x) for x in mats]), torch.linalg.multi_dot([torch.tensor(x) for x in mats]))
