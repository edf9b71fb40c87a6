"""Matrix products: matmul family, addmm family, einsum, tensordot, cross, kron, cdist against torch; float64
gradchecks (and double backward) for the derivatives; PyTorch's errors for bad operands."""
import numpy as np
import pytest

import framework
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)


def arr(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def fw(a, requires_grad=False):
    return framework.tensor(a, requires_grad=requires_grad)


def assert_close(ours, ref, rtol=1e-5, atol=1e-6):
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_allclose(ours.detach().float().numpy() if ours.dtype is framework.bfloat16
                               else ours.detach().numpy(),
                               ref.detach().float().numpy() if ref.dtype is torch.bfloat16 else ref.detach().numpy(),
                               rtol=rtol, atol=atol, equal_nan=True)


def both(name, *arrays, **kwargs):
    """Run ``name`` on framework and on torch with the same arrays; return both results."""
    ours = getattr(framework, name)(*[fw(a) for a in arrays], **kwargs)
    ref = getattr(torch, name)(*[torch.tensor(a) for a in arrays], **kwargs)
    return ours, ref


MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (4,)),
                 ((4,), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((5, 0), (0, 3)), ((2, 3, 0), (0, 4))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_shapes_match_torch(sa, sb):
    a, b = arr(*sa, dtype=np.float32), arr(*sb, dtype=np.float32)
    ours, ref = both("matmul", a, b)
    assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert_close(fw(a) @ fw(b), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES[:9])
def test_matmul_gradcheck(sa, sb):
    a, b = fw(arr(*sa), True), fw(arr(*sb), True)
    assert gradcheck(framework.matmul, (a, b))
    assert gradgradcheck(framework.matmul, (a, b))


def test_matmul_grads_match_torch_with_broadcast_batch():
    a, b = arr(2, 3, 4), arr(4, 5)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ga, gb = fw(a, True), fw(b, True)
    (ta @ tb).square().sum().backward()
    (ga @ gb).square().sum().backward()
    assert_close(ga.grad, ta.grad)
    assert_close(gb.grad, tb.grad)


def test_matmul_dtypes():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    ours, ref = both("matmul", a, b)
    assert ours.dtype is framework.int64 and ours.tolist() == ref.tolist()
    x, y = arr(2, 3, dtype=np.float32), arr(3, 4, dtype=np.float32)
    for dt in ("float16", "bfloat16"):
        ours = framework.mm(fw(x).to(getattr(framework, dt)), fw(y).to(getattr(framework, dt)))
        ref = torch.mm(torch.tensor(x).to(getattr(torch, dt)), torch.tensor(y).to(getattr(torch, dt)))
        assert_close(ours, ref, rtol=1e-2, atol=1e-2)


def test_matmul_errors():
    a = fw(arr(2, 3, dtype=np.float32))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        framework.matmul(a, fw(arr(4, 5, dtype=np.float32)))
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: float != double"):
        framework.mm(a, fw(arr(3, 2)))
    with pytest.raises(RuntimeError, match="at least 1D"):
        framework.matmul(fw(np.float32(1.0)), a)
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        framework.matmul(fw(arr(3)), fw(arr(4)))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        framework.mv(a, fw(arr(4, dtype=np.float32)))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        framework.bmm(a, a)
    with pytest.raises(RuntimeError, match=r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\]"):
        framework.bmm(fw(arr(2, 2, 3)), fw(arr(2, 4, 4)))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        framework.dot(a, fw(arr(3, dtype=np.float32)))
    with pytest.raises(NotImplementedError, match="Bool"):
        framework.mm(a.bool(), a.bool().t())
    with pytest.raises(TypeError):
        a @ 3


@pytest.mark.parametrize("name,shapes", [("mm", [(3, 4), (4, 5)]), ("bmm", [(2, 3, 4), (2, 4, 5)]),
                                         ("mv", [(3, 4), (4,)]), ("dot", [(4,), (4,)]), ("vdot", [(4,), (4,)]),
                                         ("outer", [(3,), (4,)]), ("ger", [(3,), (4,)]),
                                         ("inner", [(2, 4), (3, 4)]), ("kron", [(2, 3), (3, 2)]),
                                         ("chain_matmul", [(2, 3), (3, 4), (4, 2)])])
def test_named_products(name, shapes):
    arrays = [arr(*s) for s in shapes]
    ours, ref = both(name, *arrays)
    assert_close(ours, ref)
    inputs = tuple(fw(a, True) for a in arrays)
    assert gradcheck(getattr(framework, name), inputs)


@pytest.mark.parametrize("name,shapes", [("addmm", [(2, 4), (2, 3), (3, 4)]), ("addmm", [(4,), (2, 3), (3, 4)]),
                                         ("addmv", [(2,), (2, 3), (3,)]), ("addmv", [(), (2, 3), (3,)]),
                                         ("addbmm", [(2, 4), (5, 2, 3), (5, 3, 4)]),
                                         ("baddbmm", [(5, 2, 4), (5, 2, 3), (5, 3, 4)]),
                                         ("baddbmm", [(1,), (5, 2, 3), (5, 3, 4)]),
                                         ("addr", [(2, 3), (2,), (3,)])])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.2, 0.6)])
def test_add_products(name, shapes, beta, alpha):
    arrays = [arr(*s) for s in shapes]
    ours, ref = both(name, *arrays, beta=beta, alpha=alpha)
    assert_close(ours, ref)
    inputs = tuple(fw(a, True) for a in arrays)
    assert gradcheck(lambda *x: getattr(framework, name)(*x, beta=beta, alpha=alpha), inputs)


def test_addmm_beta_zero_ignores_nan_and_gives_zero_grad():
    x = framework.full((2, 2), float("nan"), requires_grad=True)
    out = framework.addmm(x, framework.ones(2, 2), framework.ones(2, 2), beta=0)
    assert out.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    out.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_inplace_and_methods():
    a, m1, m2 = arr(2, 4), arr(2, 3), arr(3, 4)
    ours = fw(a).addmm_(fw(m1), fw(m2), beta=0.5)
    assert_close(ours, torch.tensor(a).addmm_(torch.tensor(m1), torch.tensor(m2), beta=0.5))
    assert_close(fw(m1).matmul(fw(m2)), torch.tensor(m1) @ torch.tensor(m2))
    assert_close(fw(m2).__rmatmul__(fw(m1)), torch.tensor(m1) @ torch.tensor(m2))


def test_add_products_errors():
    f = np.float32
    with pytest.raises(RuntimeError, match="mat1 must be a matrix"):
        framework.addmm(fw(arr(3, dtype=f)), fw(arr(3, dtype=f)), fw(arr(3, 3, dtype=f)))
    with pytest.raises(RuntimeError, match="expanded size"):
        framework.addmm(fw(arr(3, 3, dtype=f)), fw(arr(2, 3, dtype=f)), fw(arr(3, 3, dtype=f)))
    with pytest.raises(RuntimeError, match="self and mat2 must have the same dtype"):
        framework.addmm(fw(arr(2, 3)), fw(arr(2, 3, dtype=f)), fw(arr(3, 3, dtype=f)))
    with pytest.raises(RuntimeError, match="must not be a floating point number"):
        framework.addr(framework.ones(2, 2, dtype=framework.int64), framework.ones(2, dtype=framework.int64),
                       framework.ones(2, dtype=framework.int64), beta=0.5)


EINSUM_CASES = [("i->", [(3,)]), ("i,j->ij", [(3,), (4,)]), ("ij->i", [(2, 3)]), ("ij,kj->ik", [(2, 3), (1, 3)]),
                ("ij,Ab->ijAb", [(2, 3), (4, 4)]), ("aij,ajk->aik", [(1, 2, 3), (1, 3, 4)]),
                ("ijk,ik->j", [(1, 2, 3), (1, 3)]), ("iji->j", [(1, 3, 1)]), ("i...->...", [(3, 3)]),
                ("...ik, ...j -> ij", [(1, 2, 3), (3,)]), ("ii", [(3, 3)]), ("ij,jk", [(2, 3), (3, 4)]),
                ("bij,bjk,bkl->bil", [(2, 2, 3), (2, 3, 4), (2, 4, 2)]), ("ii->i", [(3, 3)]),
                ("ij,ij->ij", [(1, 3), (2, 3)])]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES)
def test_einsum(equation, shapes):
    arrays = [arr(*s) for s in shapes]
    ours = framework.einsum(equation, *[fw(a) for a in arrays])
    ref = torch.einsum(equation, *[torch.tensor(a) for a in arrays])
    assert_close(ours, ref)
    inputs = tuple(fw(a, True) for a in arrays)
    assert gradcheck(lambda *x: framework.einsum(equation, *x), inputs)


def test_einsum_forms_and_errors():
    a, b = arr(2, 3), arr(3, 4)
    ref = torch.einsum("ij,jk->ik", torch.tensor(a), torch.tensor(b))
    assert_close(framework.einsum("ij,jk->ik", [fw(a), fw(b)]), ref)
    assert_close(framework.einsum(fw(a), [0, 1], fw(b), [1, 2], [0, 2]), ref)
    assert framework.einsum("i,i", fw(np.arange(3)), fw(np.arange(3))).dtype is framework.int64
    assert framework.einsum("i,j", framework.ones(2), framework.ones(3, dtype=framework.float64)).dtype \
        is framework.float64
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1"):
        framework.einsum("ij,jk", framework.ones(2, 3), framework.ones(4, 3))
    with pytest.raises(RuntimeError, match="fewer operands"):
        framework.einsum("ij,jk->ik", framework.ones(2, 3))
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        framework.einsum("ij->ji", framework.ones(2, 3, 4))
    assert gradgradcheck(lambda x, y: framework.einsum("ij,jk->ik", x, y), (fw(a, True), fw(b, True)))


@pytest.mark.parametrize("sa,sb,dims", [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 2), 1), ((2, 3), (4,), 0),
                                        ((2, 2, 1), (2, 1, 2), ([0, 1], [2, 0])),
                                        ((1, 1, 1), (2, 1, 2), ([0, 1], [2, 0]))])
def test_tensordot(sa, sb, dims):
    a, b = arr(*sa), arr(*sb)
    ours, ref = both("tensordot", a, b, dims=dims)
    assert_close(ours, ref)
    assert gradcheck(lambda x, y: framework.tensordot(x, y, dims=dims), (fw(a, True), fw(b, True)))


def test_tensordot_errors():
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        framework.tensordot(framework.ones(2, 3), framework.ones(2, 3), dims=1)
    with pytest.raises(RuntimeError, match="dims >= 0"):
        framework.tensordot(framework.ones(2, 3), framework.ones(2, 3), dims=-1)


@pytest.mark.parametrize("sa,sb,kwargs", [((5, 3), (5, 3), {}), ((5, 3, 5), (5, 3, 5), {"dim": 1}),
                                          ((1, 3), (5, 3), {"dim": -1})])
def test_cross(sa, sb, kwargs):
    a, b = arr(*sa), arr(*sb)
    ours, ref = both("cross", a, b, **kwargs)
    assert_close(ours, ref)
    assert_close(framework.linalg.cross(fw(a), fw(b), **kwargs),
                 torch.linalg.cross(torch.tensor(a), torch.tensor(b), **kwargs))
    assert gradcheck(lambda x, y: framework.cross(x, y, **kwargs), (fw(a, True), fw(b, True)))
    with pytest.raises(RuntimeError, match="must have length 3"):
        framework.linalg.cross(framework.ones(3, 4), framework.ones(3, 4))


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
def test_cdist(p, mode):
    x1, x2 = arr(2, 4, 3), arr(1, 5, 3)
    ours, ref = both("cdist", x1, x2, p=p, compute_mode=mode)
    assert_close(ours, ref, rtol=1e-6, atol=1e-8)
    if p != 0:
        assert gradcheck(lambda a, b: framework.cdist(a, b, p=p, compute_mode=mode), (fw(x1, True), fw(x2, True)))


def test_cdist_zero_distance_has_zero_gradient():
    x = fw(arr(3, 2), True)
    framework.cdist(x, x.detach()).sum().backward()
    t = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.cdist(t, t.detach()).sum().backward()
    assert_close(x.grad, t.grad)


def test_dist():
    a, b = arr(3, 4), arr(4)
    for p in (1, 2, 3.5, float("inf")):
        ours, ref = both("dist", a, b, p=p)
        assert_close(ours, ref)
