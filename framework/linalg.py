"""``framework.linalg``: norms, inverses, determinants, solves and decompositions (``torch.linalg``).

Each decomposition is an op whose kernel is LAPACK (through numpy) and whose derivative is written
with framework ops, so it runs through the same dispatch and is differentiable again.
"""
import builtins
import math

import numpy as np

from . import _dtype, return_types
from ._tensor import Tensor
from .ops._checks import wrap_dims
from .ops.elementwise import where
from .ops.matmul import _linalg_cross, _word, matmul, norm_backward
from .ops.registry import dispatch, register_op

__all__ = ["LinAlgError", "vector_norm", "matrix_norm", "norm", "cond", "inv", "inv_ex", "det", "slogdet", "solve",
           "solve_ex", "solve_triangular", "tensorinv", "tensorsolve", "cholesky", "cholesky_ex", "qr", "eigh",
           "eigvalsh", "svd", "svdvals", "pinv", "matrix_rank", "matrix_power", "cross", "multi_dot", "matmul",
           "vecdot", "vander", "diagonal"]


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (singular or not positive-definite matrix)."""


for _name, _fields in (("linalg_slogdet", ("sign", "logabsdet")), ("slogdet", ("sign", "logabsdet")),
                       ("linalg_eigh", ("eigenvalues", "eigenvectors")), ("linalg_qr", ("Q", "R")),
                       ("linalg_svd", ("U", "S", "Vh")), ("linalg_inv_ex", ("inverse", "info")),
                       ("linalg_solve_ex", ("result", "info")), ("linalg_cholesky_ex", ("L", "info")),
                       ("svd", ("U", "S", "V")), ("qr", ("Q", "R"))):
    if not hasattr(return_types, _name):
        return_types._make(_name, _fields)

_INF = float("inf")


def _floating_input(A, name):
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(A).__name__}")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {_word(A)}")


def _square(A, name, arg="A"):
    """PyTorch's checks for LAPACK ops: float32/float64 batches of square matrices."""
    _floating_input(A, name)
    if A.dtype in (_dtype.float16, _dtype.bfloat16):
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {_word(A)}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _matrix(A, name):
    _floating_input(A, name)
    if A.dtype in (_dtype.float16, _dtype.bfloat16):
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {_word(A)}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")


def _lapack(op, inputs, attrs, name, what):
    try:
        return dispatch(op, inputs, attrs)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{name}: The factorization could not be completed because the input {what}.") from None


def _finish(result, out):
    if out is None:
        return result
    from .ops.conversion import write_out
    return write_out(out, result)


def _tril_mask(n, like, diagonal=0):
    return Tensor._wrap(np.tril(np.ones((n, n), dtype=like.dtype.np), diagonal), like.dtype, like._device)


def _diag_embed(v):
    """A batch of diagonal matrices with ``v`` (..., n) on their diagonals."""
    n = v.shape[-1]
    eye = Tensor._wrap(np.eye(n, dtype=v.dtype.np), v.dtype, v._device)
    return v.unsqueeze(-1) * eye


def _diagonal(A):
    return A.diagonal(0, -2, -1)


def _sym(A):
    return (A + A.mT) * 0.5


# ----- norms ---------------------------------------------------------------------------------------
def _vector_norm_grad(node, g):
    x, result = node.saved
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    if x.ndim == 0:
        return norm_backward(x, result, g, node.attrs["ord"])
    dims = dims if dims is not None else tuple(range(x.ndim))
    if not keepdim:
        for d in sorted(dims):
            result, g = result.unsqueeze(d), g.unsqueeze(d)
    return norm_backward(x, result, g, node.attrs["ord"])


_vector_norm_op = register_op("linalg_vector_norm", _vector_norm_grad, save_outputs=True)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector ``ord``-norm of ``x`` over ``dim`` (all elements when None) (``torch.linalg.vector_norm``)."""
    _floating_input(x, "linalg.vector_norm")
    if isinstance(ord, Tensor) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg.vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    if dtype is not None:
        dtype = _dtype.to_dtype(dtype)
        if not dtype.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex. Got {dtype}")
        x = x.to(dtype)
    dims = None if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0) else wrap_dims(
        dim, x.ndim, "linalg.vector_norm")
    if x.numel() == 0 and ord < 0 or (ord == _INF and x.numel() == 0):
        reduced = range(x.ndim) if dims is None else dims
        if dims is None or any(x.shape[d] == 0 for d in reduced):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                               "operation does not have an identity")
    attrs = {"ord": float(ord), "dims": dims, "keepdim": bool(keepdim)}
    return _finish(dispatch(_vector_norm_op, (x,), attrs), out)


def _move_to_end(A, dims):
    """``A`` with its two matrix ``dims`` moved last."""
    d0, d1 = dims
    rest = [d for d in range(A.ndim) if d not in (d0, d1)]
    return A.permute(*rest, d0, d1)


def _restore(result, dims, keepdim):
    if keepdim:
        for d in sorted(dims):
            result = result.unsqueeze(d)
    return result


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """A matrix norm: 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2 over the two ``dim`` (``torch.linalg.matrix_norm``)."""
    _floating_input(A, "linalg.matrix_norm")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        A = A.to(_dtype.to_dtype(dtype))
    dims = wrap_dims(dim, A.ndim, "linalg.matrix_norm")
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}")
    if ord == "fro":
        return _finish(vector_norm(A, 2, dims, keepdim), out)
    if ord == "nuc" or ord in (2, -2):
        s = svdvals(_move_to_end(A, dims))
        if ord == "nuc":
            result = s.sum(-1)
        else:
            # an empty max is 0 for these non-negative values (PyTorch's identity); an empty min raises
            result = (s.amax(-1) if s.shape[-1] else s.sum(-1)) if ord == 2 else s.amin(-1)
        return _finish(_restore(result, dims, keepdim), out)
    if ord in (1, -1, _INF, -_INF):
        # 1: the largest column sum of |A|; inf: the largest row sum
        summed, extreme = (dims[0], dims[1]) if ord in (1, -1) else (dims[1], dims[0])
        sums = A.abs().sum(summed, keepdim=True)
        if ord > 0:
            result = sums.amax(extreme, keepdim=True) if sums.shape[extreme] else sums.sum(extreme, keepdim=True)
        else:
            result = sums.amin(extreme, keepdim=True)
        if not keepdim:
            result = result.squeeze(builtins.max(dims)).squeeze(builtins.min(dims))
        return _finish(result, out)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector or matrix norm, chosen from ``ord`` and ``dim`` as ``torch.linalg.norm`` does."""
    _floating_input(A, "linalg.norm")
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype, out=out)
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype, out=out)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    if A.ndim == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 2D. Got {A.ndim}D.")
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")


# ----- inverse, determinant, solve -----------------------------------------------------------------
def _inv_grad(node, g):
    inv_t = node.saved[0].mT
    return -matmul(matmul(inv_t, g), inv_t)


_inv_op = register_op("linalg_inv", _inv_grad, save_inputs=False, save_outputs=True)


def inv(A, *, out=None):
    """Inverse of a batch of square matrices (``torch.linalg.inv``)."""
    _square(A, "linalg.inv")
    return _finish(_lapack(_inv_op, (A,), None, "linalg.inv", "matrix is singular"), out)


def inv_ex(A, *, check_errors=False, out=None):
    """``(inverse, info)``: the inverse and a LAPACK status per matrix (0 = success) (``torch.linalg.inv_ex``)."""
    _square(A, "linalg.inv_ex")
    try:
        result = dispatch(_inv_op, (A,))
        info = np.zeros(A.shape[:-2], dtype=np.int32)
    except np.linalg.LinAlgError:
        if check_errors:
            raise LinAlgError("linalg.inv_ex: The input matrix is singular, the inversion could not be "
                              "completed.") from None
        result = Tensor._wrap(np.full(A.shape, np.nan, dtype=A.dtype.np), A.dtype, A._device)
        info = np.ones(A.shape[:-2], dtype=np.int32)
    return _finish(return_types.named("linalg_inv_ex", result, Tensor._wrap(info)), out)


def _unsqueeze2(t):
    return t.unsqueeze(-1).unsqueeze(-1)


def _det_grad(node, g):
    A, d = node.saved
    return _unsqueeze2(g * d) * inv(A).mT


_det_op = register_op("linalg_det", _det_grad, save_outputs=True)


def det(A, *, out=None):
    """Determinant of a batch of square matrices (``torch.linalg.det``)."""
    _square(A, "linalg.det")
    return _finish(dispatch(_det_op, (A,)), out)


def _slogdet_grad(node, g_sign, g_logabs):
    return _unsqueeze2(g_logabs) * inv(node.saved[0]).mT


_slogdet_op = register_op("linalg_slogdet", _slogdet_grad)


def slogdet(A, *, out=None):
    """``(sign, logabsdet)`` of the determinant of square matrices (``torch.linalg.slogdet``)."""
    _square(A, "linalg.slogdet")
    sign, logabs = dispatch(_slogdet_op, (A,))
    return _finish(return_types.named("linalg_slogdet", sign, logabs), out)


def _solve_grad(node, g):
    A, _, X = node.saved
    gB = solve(A.mT, g)
    gA = None if node.next_edges[0] is None else -matmul(gB, X.mT)
    return gA, gB


_solve_op = register_op("linalg_solve", _solve_grad, save_inputs=True, save_outputs=True)


def solve(A, B, *, left=True, out=None):
    """The solution ``X`` of ``A X = B`` (or ``X A = B`` with left=False) (``torch.linalg.solve``)."""
    _square(A, "linalg.solve")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve(): argument 'B' (position 2) must be Tensor, not {type(B).__name__}")
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type {_word(A)} "
                           f"and B of type {_word(B)} instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if not left:
        if vector:
            return _finish(solve(A.mT, B), out)
        return _finish(solve(A.mT, B.mT).mT, out)
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {rhs.shape[-2]}x{rhs.shape[-1]})")
    from .ops._checks import broadcast_shapes
    broadcast_shapes(A.shape[:-2], rhs.shape[:-2], "linalg.solve")
    X = _lapack(_solve_op, (A, rhs), None, "linalg.solve", "matrix is singular")
    return _finish(X.squeeze(-1) if vector else X, out)


# ----- decompositions ------------------------------------------------------------------------------
def _cholesky_grad(node, g):
    L = node.saved[0]
    upper = node.attrs["upper"]
    if upper:
        L, g = L.mT, g.mT
    n = L.shape[-1]
    # Phi(L^T gL): the lower triangle with a halved diagonal; then gA = L^-T Phi L^-1, symmetrised
    P = matmul(L.mT, g) * (_tril_mask(n, L) - 0.5 * _eye(n, L))
    L_inv = inv(L)
    return _sym(matmul(matmul(L_inv.mT, P), L_inv))


def _eye(n, like):
    return Tensor._wrap(np.eye(n, dtype=like.dtype.np), like.dtype, like._device)


_cholesky_op = register_op("linalg_cholesky", _cholesky_grad, save_inputs=False, save_outputs=True)


def cholesky(A, *, upper=False, out=None):
    """Cholesky factor of symmetric positive-definite matrices: lower ``L`` with ``A = L L^T`` (or upper)."""
    _square(A, "linalg.cholesky")
    return _finish(_lapack(_cholesky_op, (A,), {"upper": bool(upper)}, "linalg.cholesky",
                           "matrix is not positive-definite"), out)


def _qr_grad(node, gQ, gR):
    A, Q, R = node.saved
    m, n = A.shape[-2], A.shape[-1]
    mode = node.attrs["mode"]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                           "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise NotImplementedError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
    if m >= n:
        return _qr_square_grad(Q, R, gQ, gR)
    # a wide A = Q [R1 | R2]: the left m x m block is a square QR, the right block is Q R2
    cols = Tensor._wrap(np.arange(n) >= m)
    gR2 = gR * cols
    gQ = gQ + matmul(A * cols, gR2.mT)
    gX = _qr_square_grad(Q, R.narrow(-1, 0, m), gQ, gR.narrow(-1, 0, m))
    return matmul(gX, Tensor._wrap(np.eye(m, n, dtype=A.dtype.np), A.dtype)) + matmul(Q, gR2)


def _qr_square_grad(Q, R, gQ, gR):
    """Gradient of A = QR with R square: M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T."""
    n = R.shape[-1]
    M = matmul(R, gR.mT) - matmul(gQ.mT, Q)
    low = M * _tril_mask(n, M, -1)
    sym = low + low.mT + _diag_embed(_diagonal(M))
    return solve(R, (gQ + matmul(Q, sym)).mT).mT


_qr_op = register_op("linalg_qr", _qr_grad, save_outputs=True)


def qr(A, mode="reduced", *, out=None):
    """QR decomposition ``A = Q R`` (modes 'reduced', 'complete', 'r') (``torch.linalg.qr``)."""
    _matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    Q, R = dispatch(_qr_op, (A,), {"mode": mode})
    return _finish(return_types.named("linalg_qr", Q, R), out)


def _eigh_grad(node, gw, gV):
    w, V = node.saved[1], node.saved[2]
    n = w.shape[-1]
    eye = _eye(n, w)
    # F_ij = 1 / (w_j - w_i) off the diagonal; only the skew part of V^T gV moves the eigenvectors
    F = (1 - eye) / (w.unsqueeze(-2) - w.unsqueeze(-1) + eye)
    VtgV = matmul(V.mT, gV)
    inner = _diag_embed(gw) + F * ((VtgV - VtgV.mT) * 0.5)
    return matmul(matmul(V, inner), V.mT)


_eigh_op = register_op("linalg_eigh", _eigh_grad, save_outputs=True)


def eigh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices (``torch.linalg.eigh``)."""
    _square(A, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    w, V = _lapack(_eigh_op, (A,), {"uplo": UPLO}, "linalg.eigh", "matrix is ill-conditioned")
    return _finish(return_types.named("linalg_eigh", w, V), out)


def eigvalsh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) of symmetric matrices (``torch.linalg.eigvalsh``)."""
    return _finish(eigh(A, UPLO)[0], out)


def _svd_grad(node, gU, gS, gVh):
    _, U, S, Vh = node.saved
    k = S.shape[-1]
    if node.attrs["full_matrices"]:
        # the columns past k are any orthonormal completion: they carry no gradient
        U, gU = U.narrow(-1, 0, k), gU.narrow(-1, 0, k)
        Vh, gVh = Vh.narrow(-2, 0, k), gVh.narrow(-2, 0, k)
    V, gV = Vh.mT, gVh.mT
    eye = _eye(k, S)
    s2 = S * S
    diff = s2.unsqueeze(-2) - s2.unsqueeze(-1)
    F = (1 - eye) / (diff + eye)
    UtgU = matmul(U.mT, gU)
    VtgV = matmul(V.mT, gV)
    Sm = S.unsqueeze(-2)
    core = (F * (UtgU - UtgU.mT)) * Sm + _diag_embed(gS) + S.unsqueeze(-1) * (F * (VtgV - VtgV.mT))
    result = matmul(matmul(U, core), Vh)
    m, n = U.shape[-2], V.shape[-2]
    inv_s = 1 / S
    if m > k:
        result = result + matmul((gU - matmul(U, UtgU)) * inv_s.unsqueeze(-2), Vh)
    if n > k:
        result = result + matmul(U * inv_s.unsqueeze(-2), (gV - matmul(V, VtgV)).mT)
    return result


_svd_op = register_op("linalg_svd", _svd_grad, save_outputs=True)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """Singular value decomposition ``A = U diag(S) Vh`` (``torch.linalg.svd``)."""
    _matrix(A, "linalg.svd")
    if driver is not None:
        raise NotImplementedError("linalg.svd: the 'driver' argument is only supported on CUDA")
    U, S, Vh = _lapack(_svd_op, (A,), {"full_matrices": bool(full_matrices)}, "linalg.svd", "did not converge")
    return _finish(return_types.named("linalg_svd", U, S, Vh), out)


def _svdvals_grad(node, g):
    U, _, Vh = svd(node.saved[0], full_matrices=False)
    return matmul(U * g.unsqueeze(-2), Vh)


_svdvals_op = register_op("linalg_svdvals", _svdvals_grad)


def svdvals(A, *, driver=None, out=None):
    """Singular values, descending (``torch.linalg.svdvals``)."""
    _matrix(A, "linalg.svdvals")
    if driver is not None:
        raise NotImplementedError("linalg.svdvals: the 'driver' argument is only supported on CUDA")
    return _finish(_lapack(_svdvals_op, (A,), None, "linalg.svdvals", "did not converge"), out)


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """Moore-Penrose pseudo-inverse through the SVD, dropping singular values under the tolerance."""
    _matrix(A, "linalg.pinv")
    U, S, Vh = svd(A, full_matrices=False)
    keep = S > _tolerance(A, S, atol, rtol)
    inv_s = where(keep, 1 / where(keep, S, 1.0), 0.0)
    return _finish(matmul(Vh.mT * inv_s.unsqueeze(-2), U.mT), out)


def _tolerance(A, S, atol, rtol):
    """Per-matrix cut-off max(atol, rtol * largest singular value), shaped (..., 1) against ``S``.

    Without ``rtol``, it is eps * max(m, n) unless a positive ``atol`` is given (then 0), as in PyTorch.
    """
    default = _dtype.finfo(A.dtype).eps * builtins.max(A.shape[-2:])
    if rtol is None:
        if atol is None:
            rtol = default
        elif isinstance(atol, Tensor):
            rtol = (atol <= 0).to(S.dtype) * default
        else:
            rtol = 0.0 if atol > 0 else default
    smax = S.amax(-1) if S.shape[-1] else S.sum(-1)
    tol = smax * rtol
    if atol is not None:
        from .ops.elementwise import maximum
        tol = maximum(tol, atol)
    return tol.unsqueeze(-1)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """Number of singular values above the tolerance (``torch.linalg.matrix_rank``)."""
    _matrix(A, "linalg.matrix_rank")
    A = A.detach()
    S = eigvalsh(A).abs() if hermitian else svdvals(A)
    return _finish((S > _tolerance(A, S, atol, rtol)).sum(-1), out)


def matrix_power(A, n, *, out=None):
    """``A`` multiplied by itself ``n`` times; negative ``n`` powers the inverse (``torch.linalg.matrix_power``)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.matrix_power(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{A.shape[-2] if A.ndim > 1 else 1} by {A.shape[-1] if A.ndim else 1} matrices")
    if n == 0:
        # identity, yet connected to A (with a zero gradient) as PyTorch's result is
        never = Tensor._wrap(np.zeros(A.shape, dtype=bool))
        return _finish(where(never, A, _eye(A.shape[-1], A)), out)
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return _finish(result if result is not A else A.clone(), out)


def cross(input, other, *, dim=-1, out=None):
    """Cross product of 3-vectors along ``dim`` (``torch.linalg.cross``)."""
    return _finish(_linalg_cross(input, other, dim, "linalg.cross"), out)


def multi_dot(tensors, *, out=None):
    """Product of a chain of matrices; the first and last may be vectors (``torch.linalg.multi_dot``)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    if first_vec:
        tensors[0] = tensors[0].unsqueeze(0)
    if last_vec:
        tensors[-1] = tensors[-1].unsqueeze(-1)
    for i, t in enumerate(tensors):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    if first_vec:
        result = result.squeeze(0)
    if last_vec:
        result = result.squeeze(-1)
    return _finish(result, out)


def vecdot(x, y, *, dim=-1, out=None):
    """Dot product of vectors along ``dim`` with broadcasting (``torch.linalg.vecdot``)."""
    return _finish((x * y).sum(dim), out)


def _with_info(fn, A, check_errors):
    """``(fn(), info)`` for the ``*_ex`` variants: info is 0 per matrix, or 1 with NaN results on failure."""
    info_shape = A.shape[:-2]
    try:
        result = fn()
        info = np.zeros(info_shape, dtype=np.int32)
    except LinAlgError:
        if check_errors:
            raise
        result = None
        info = np.ones(info_shape, dtype=np.int32)
    return result, Tensor._wrap(info)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """``(result, info)``: ``solve`` that reports a singular ``A`` in ``info`` instead of raising."""
    result, info = _with_info(lambda: solve(A, B, left=left), A, check_errors)
    if result is None:
        result = solve(A * 0 + _eye(A.shape[-1], A), B, left=left) * float("nan")
    return _finish(return_types.named("linalg_solve_ex", result, info), out)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """``(L, info)``: ``cholesky`` that reports a non-positive-definite ``A`` in ``info`` instead of raising."""
    result, info = _with_info(lambda: cholesky(A, upper=upper), A, check_errors)
    if result is None:
        result = A * float("nan")
    return _finish(return_types.named("linalg_cholesky_ex", result, info), out)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """Solve ``A X = B`` (or ``X A = B``) reading only the upper or lower triangle of ``A``."""
    _square(A, "linalg.solve_triangular")
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    n = A.shape[-1]
    mask = _tril_mask(n, A, -1 if unitriangular else 0)
    tri = A * (mask.mT if upper else mask)
    if unitriangular:
        tri = tri + _eye(n, A)
    return _finish(solve(tri, B, left=left), out)


def tensorinv(A, ind=2, *, out=None):
    """Inverse of ``A`` as a linear map from its first ``ind`` dims to the rest (``torch.linalg.tensorinv``)."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return _finish(inv(A.reshape(rows, cols)).reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind])), out)


def tensorsolve(A, B, dims=None, *, out=None):
    """The ``X`` with ``tensordot(A, X, X.ndim) == B`` (``torch.linalg.tensorsolve``)."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.permute(*[d for d in range(A.ndim) if d not in dims], *dims)
    rest = tuple(A.shape[B.ndim:])
    X = solve(A.reshape(B.numel(), math.prod(rest)), B.reshape(B.numel()))
    return _finish(X.reshape(rest), out)


def cond(A, p=None, *, out=None):
    """Condition number of ``A`` in the ``p`` norm (the 2-norm by default) (``torch.linalg.cond``)."""
    _matrix(A, "linalg.cond")
    if p is None or p in (2, -2):
        s = svdvals(A)
        big, small = s.narrow(-1, 0, 1).squeeze(-1), s.narrow(-1, s.shape[-1] - 1, 1).squeeze(-1)
        return _finish(small / big if p == -2 else big / small, out)
    return _finish(matrix_norm(A, p) * matrix_norm(inv(A), p), out)


def vander(x, *, N=None):
    """Columns ``x**0, x**1, ..., x**(N-1)`` along a new last dim (``torch.linalg.vander``)."""
    from . import cat
    if x.ndim == 0:
        x = x.unsqueeze(0)
    N = x.shape[-1] if N is None else N
    if N < 1:
        raise RuntimeError("N must be greater than 1.")
    ones = (x * 0 + 1).unsqueeze(-1)
    if N == 1:
        return ones
    # running products, not pow: exact for integers and differentiable at x = 0
    powers = x.unsqueeze(-1).expand(tuple(x.shape) + (N - 1,)).cumprod(-1)
    return cat([ones, powers], -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of each matrix in ``A`` (a view) (``torch.linalg.diagonal``)."""
    return A.diagonal(offset, dim1, dim2)
