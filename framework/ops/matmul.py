"""Matrix products: matmul and its named forms (mm, bmm, mv, dot, ...), the addmm family, einsum,
tensordot, cross, kron and cdist.

Two primitives carry the GEMMs: ``matmul`` (numpy's matmul semantics, which are PyTorch's) and the
fused ``addmatmul`` (``beta * input + alpha * a @ b``). The named forms check shapes and dtypes with
PyTorch's messages and then call one of them; their derivatives are matmuls again.
"""
import builtins
import functools
import string

from .. import _dtype
from .._tensor import Tensor
from ._checks import broadcast_shapes, wrap_dim
from .registry import commit_inplace, dispatch, register_op, tensor_method

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv", "addbmm",
           "baddbmm", "addr", "einsum", "tensordot", "cross", "kron", "chain_matmul", "cdist", "dist",
           "inverse", "det", "logdet", "slogdet", "matrix_power", "cholesky", "cholesky_solve", "cholesky_inverse",
           "svd", "qr", "pinverse"]

# the names PyTorch's C++ messages use for dtypes ("float != double")
_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}
_TYPE_WORDS = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _word(t):
    return _TYPE_WORDS[t.dtype.name]


def _finish(result, out):
    if out is None:
        return result
    from .conversion import write_out
    return write_out(out, result)


def _tensor_arg(value, op, arg, pos):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position {pos}) must be Tensor, not {type(value).__name__}")
    return value


def _check_gemm_dtypes(a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_C_NAMES[a.dtype.name]} != "
                           f"{_C_NAMES[b.dtype.name]}")
    if a.dtype is _dtype.bool:
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")


def _sizes(shape):
    return "x".join(str(s) for s in shape)


def _check_expandable(shape, target):
    """PyTorch's error when ``input`` of an add* op cannot be expanded to the product's shape."""
    if len(shape) > len(target):
        raise RuntimeError(f"The number of sizes provided ({len(target)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({len(shape)})")
    lead = len(target) - len(shape)
    for i, s in enumerate(shape):
        if s != 1 and s != target[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({target[lead + i]}) must match the existing size "
                               f"({s}) at non-singleton dimension {lead + i}.  Target sizes: {list(target)}.  "
                               f"Tensor sizes: {list(shape)}")


# ----- the two GEMM primitives ---------------------------------------------------------------------
def _matmul_grads(node, a, b, g, scale=1):
    """Gradients of ``a @ b`` (numpy matmul semantics) for the inputs that need them; batch dims broadcast."""
    need_a, need_b = node.next_edges[-2] is not None, node.next_edges[-1] is not None
    if scale != 1:
        g = g * scale
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        return (g * b if need_a else None), (g * a if need_b else None)
    if a.ndim == 1:
        if need_a:
            ga = matmul(g.unsqueeze(-2), b.mT).squeeze(-2)
        if need_b:
            gb = a.unsqueeze(-1) * g.unsqueeze(-2)
        return ga, gb
    if b.ndim == 1:
        if need_a:
            ga = g.unsqueeze(-1) * b
        if need_b:
            gb = matmul(a.mT, g.unsqueeze(-1)).squeeze(-1)
        return ga, gb
    if need_a:
        ga = matmul(g, b.mT)
    if need_b:
        if b.ndim == 2 and a.ndim > 2:
            # a shared weight: fold the batch into one GEMM rather than summing a stack of products
            gb = matmul(a.flatten(0, -2).mT, g.flatten(0, -2))
        else:
            gb = matmul(a.mT, g)
    return ga, gb


_matmul_op = register_op("matmul", lambda n, g: _matmul_grads(n, n.saved[0], n.saved[1], g))


def _addmatmul_grad(node, g):
    _, a, b = node.saved
    beta, alpha = node.attrs["beta"], node.attrs["alpha"]
    ginput = None if node.next_edges[0] is None else (g * beta if beta != 1 else g)
    return (ginput,) + _matmul_grads(node, a, b, g, alpha)


_addmatmul_op = register_op("addmatmul", _addmatmul_grad)


def _gemm(a, b):
    return dispatch(_matmul_op, (a, b))


def _add_gemm(input, a, b, beta, alpha, out_shape):
    _check_expandable(input.shape, out_shape)
    return dispatch(_addmatmul_op, (input, a, b), {"beta": beta, "alpha": alpha})


# ----- matmul and its named forms ------------------------------------------------------------------
@tensor_method("matmul")
def matmul(input, other, *, out=None):
    """Matrix product with PyTorch's 1-D, 2-D and broadcast batched rules (``torch.matmul``)."""
    _tensor_arg(input, "matmul", "input", 1)
    _tensor_arg(other, "matmul", "other", 2)
    sa, sb = input._data.shape, other._data.shape
    if (len(sa) >= 2 and len(sb) >= 2 and sa[-1] == sb[-2] and input.dtype is other.dtype
            and input.dtype is not _dtype.bool and (len(sa) == 2 or len(sb) == 2 or sa[:-2] == sb[:-2])):
        return _finish(_gemm(input, other), out)  # the common case, checked cheaply
    _check_matmul(input, other)
    if len(sa) == 1 and len(sb) == 1:
        return _finish(_dot(input, other, "dot"), out)
    return _finish(_gemm(input, other), out)


def _check_matmul(a, b):
    """PyTorch's errors for matmul operands, in its order: dims, inner sizes, batch broadcast, dtypes."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    if a.ndim == 1 and b.ndim == 1:
        return
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if b.ndim == 1:
        if k_a != k_b:
            rows = a.numel() // k_a if k_a else a.shape[-2]
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k_a}), vec ({k_b})")
    elif k_a != k_b:
        if a.ndim <= 2 or b.ndim == 2:
            rows = a.numel() // k_a if k_a else (a.shape[-2] if a.ndim > 1 else 1)
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k_a} and {k_b}x{b.shape[-1]})")
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], "matmul")
        n = 1
        for s in batch:
            n *= s
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {k_a}] but got: "
                           f"[{n}, {k_b}].")
    if a.ndim > 2 and b.ndim > 2:
        broadcast_shapes(a.shape[:-2], b.shape[:-2], "matmul")
    _check_gemm_dtypes(a, b)


def _matmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def _rmatmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


Tensor.__matmul__ = _matmul_operator
Tensor.__rmatmul__ = _rmatmul_operator


@tensor_method("mm")
def mm(input, mat2, *, out=None):
    """Product of two matrices (``torch.mm``)."""
    _tensor_arg(input, "mm", "input", 1)
    _tensor_arg(mat2, "mm", "mat2", 2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_sizes(input.shape)} and "
                           f"{_sizes(mat2.shape)})")
    _check_gemm_dtypes(input, mat2)
    return _finish(_gemm(input, mat2), out)


def _check_batches(b1, b2, same_count_message=False):
    for name, t in (("batch1", b1), ("batch2", b2)):
        if t.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if same_count_message and b1.shape[0] != b2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b1.shape[0]} and {b2.shape[0]}")
    if b1.shape[0] != b2.shape[0] or b1.shape[2] != b2.shape[1]:
        if same_count_message:
            raise RuntimeError(f"Incompatible matrix sizes for bmm ({b1.shape[1]}x{b1.shape[2]} and "
                               f"{b2.shape[1]}x{b2.shape[2]})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b1.shape[0]}, "
                           f"{b1.shape[2]}] but got: [{b2.shape[0]}, {b2.shape[1]}].")
    if b1.dtype is not b2.dtype:
        raise RuntimeError(f"expected scalar type {_word(b1)} but found {_word(b2)}")
    if b1.dtype is _dtype.bool:
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")


@tensor_method("bmm")
def bmm(input, mat2, *, out=None):
    """Batched matrix product of two 3-D tensors (``torch.bmm``)."""
    _tensor_arg(input, "bmm", "input", 1)
    _tensor_arg(mat2, "bmm", "mat2", 2)
    _check_batches(input, mat2)
    return _finish(_gemm(input, mat2), out)


def _check_mv(input_ndim, mat, vec, input_size=None):
    if mat.ndim != 2 or vec.ndim != 1 or input_ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input_ndim}, {mat.ndim}, {vec.ndim}")
    size = mat.shape[0] if input_size is None else input_size
    if mat.shape[1] != vec.shape[0] or (size != mat.shape[0] and size != 1):
        raise RuntimeError(f"size mismatch, got input ({size}), mat ({_sizes(mat.shape)}), vec ({vec.shape[0]})")


@tensor_method("mv")
def mv(input, vec, *, out=None):
    """Matrix-vector product (``torch.mv``)."""
    _tensor_arg(input, "mv", "input", 1)
    _tensor_arg(vec, "mv", "vec", 2)
    _check_mv(1, input, vec)
    if input.dtype is not vec.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_word(vec)}, {_word(input)}, "
                           f"and {_word(vec)}")
    _check_gemm_dtypes(input, vec)
    return _finish(_gemm(input, vec), out)


def _dot(a, b, name):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name} : expected both vectors to have same dtype, but found {_word(a)} and {_word(b)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have "
                           f"the same number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively")
    if a.dtype is _dtype.bool:
        raise NotImplementedError(f"\"{name}\" not implemented for 'Bool'")
    return _gemm(a, b)


@tensor_method("dot")
def dot(input, tensor, *, out=None):
    """Inner product of two 1-D tensors (``torch.dot``)."""
    _tensor_arg(input, "dot", "input", 1)
    _tensor_arg(tensor, "dot", "tensor", 2)
    return _finish(_dot(input, tensor, "dot"), out)


@tensor_method("vdot")
def vdot(input, other, *, out=None):
    """Inner product of two 1-D tensors, conjugating the first (the same as ``dot`` for real tensors)."""
    _tensor_arg(input, "vdot", "input", 1)
    _tensor_arg(other, "vdot", "other", 2)
    return _finish(_dot(input, other, "vdot"), out)


@tensor_method("inner")
def inner(input, other, *, out=None):
    """Sum of products over the last dimension of both tensors (``torch.inner``)."""
    _tensor_arg(input, "inner", "input", 1)
    _tensor_arg(other, "inner", "other", 2)
    if input.ndim == 0 or other.ndim == 0:
        return _finish(input * other, out)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return _finish(tensordot(input, other, dims=([-1], [-1])), out)


@tensor_method("outer")
def outer(input, vec2, *, out=None):
    """Outer product of two 1-D tensors (``torch.outer``)."""
    _tensor_arg(input, "outer", "input", 1)
    _tensor_arg(vec2, "outer", "vec2", 2)
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return _finish(input.unsqueeze(1) * vec2, out)


ger = outer
Tensor.ger = outer


# ----- beta * input + alpha * product -------------------------------------------------------------
def _check_input_dtype(input, mat):
    if input.dtype is not mat.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_word(input)} and {_word(mat)}")


def _inplace(name, fn):
    def method(self, *args, **kwargs):
        return commit_inplace(self, fn(self, *args, **kwargs))
    method.__name__ = name + "_"
    method.__doc__ = f"In-place version of :func:`{name}`."
    setattr(Tensor, name + "_", method)


@tensor_method("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``; beta=0 ignores ``input`` (NaN included) (``torch.addmm``)."""
    for i, (name, t) in enumerate((("input", input), ("mat1", mat1), ("mat2", mat2))):
        _tensor_arg(t, "addmm", name, i + 1)
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t.ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_sizes(mat1.shape)} and "
                           f"{_sizes(mat2.shape)})")
    _check_gemm_dtypes(mat1, mat2)
    _check_input_dtype(input, mat2)
    return _finish(_add_gemm(input, mat1, mat2, beta, alpha, (mat1.shape[0], mat2.shape[1])), out)


@tensor_method("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat @ vec)`` (``torch.addmv``)."""
    for i, (name, t) in enumerate((("input", input), ("mat", mat), ("vec", vec))):
        _tensor_arg(t, "addmv", name, i + 1)
    _check_mv(input.ndim, mat, vec, input.shape[0] if input.ndim == 1 else 1)
    if not (input.dtype is mat.dtype is vec.dtype):
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_word(input)}, {_word(mat)}, "
                           f"and {_word(vec)}")
    _check_gemm_dtypes(mat, vec)
    return _finish(_add_gemm(input, mat, vec, beta, alpha, (mat.shape[0],)), out)


@tensor_method("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * bmm(batch1, batch2)`` (``torch.baddbmm``)."""
    for i, (name, t) in enumerate((("input", input), ("batch1", batch1), ("batch2", batch2))):
        _tensor_arg(t, "baddbmm", name, i + 1)
    _check_batches(batch1, batch2)
    _check_input_dtype(input, batch2)
    shape = (batch1.shape[0], batch1.shape[1], batch2.shape[2])
    return _finish(_add_gemm(input, batch1, batch2, beta, alpha, shape), out)


@tensor_method("addbmm")
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]`` (``torch.addbmm``)."""
    for i, (name, t) in enumerate((("input", input), ("batch1", batch1), ("batch2", batch2))):
        _tensor_arg(t, "addbmm", name, i + 1)
    _check_batches(batch1, batch2, same_count_message=True)
    _check_input_dtype(input, batch2)
    nb, n, k = batch1.shape
    m = batch2.shape[2]
    # the sum over batches is one GEMM over the concatenated inner dimension: (n, B*k) @ (B*k, m)
    a = batch1.permute(1, 0, 2).reshape(n, nb * k)
    b = batch2.reshape(nb * k, m)
    return _finish(_add_gemm(input, a, b, beta, alpha, (n, m)), out)


@tensor_method("addr")
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * outer(vec1, vec2)`` (``torch.addr``)."""
    for i, (name, t) in enumerate((("input", input), ("vec1", vec1), ("vec2", vec2))):
        _tensor_arg(t, "addr", name, i + 1)
    for name, t in (("vec1", vec1), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {t.ndim}-D")
    if not input.dtype.is_floating_point:
        for name, v in (("beta", beta), ("alpha", alpha)):
            if isinstance(v, float):
                kind = "integral" if input.dtype is not _dtype.bool else "Boolean"
                raise RuntimeError(f"For {kind} input tensors, argument {name} must not be a floating point number.")
    if input.dtype is _dtype.bool:
        prod = vec1.unsqueeze(1) & vec2 if alpha else vec1.unsqueeze(1) & False
        _check_expandable(input.shape, prod.shape)
        return _finish(prod | input if beta else prod, out)
    _check_gemm_dtypes(vec1, vec2)
    _check_input_dtype(input, vec2)
    shape = (vec1.shape[0], vec2.shape[0])
    return _finish(_add_gemm(input, vec1.unsqueeze(1), vec2.unsqueeze(0), beta, alpha, shape), out)


for _name, _fn in (("addmm", addmm), ("addmv", addmv), ("baddbmm", baddbmm), ("addbmm", addbmm), ("addr", addr)):
    _inplace(_name, _fn)


def chain_matmul(*matrices, out=None):
    """Product of a chain of 2-D tensors, left to right (``torch.chain_matmul``)."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more tensors but got none")
    result = matrices[0]
    if len(matrices) == 1:
        if result.ndim != 2:
            raise RuntimeError(f"chain_matmul(): Tensor 0 must be 2D but got {result.ndim}D")
        return _finish(result.clone(), out)
    for m in matrices[1:]:
        result = mm(result, m)
    return _finish(result, out)


# ----- einsum --------------------------------------------------------------------------------------
_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # ASCII order: PyTorch's implicit-output order


@functools.lru_cache(maxsize=1024)
def _parse_einsum(equation, shapes):
    """Canonical equation (ellipses spelled as fresh letters, explicit output) for operands of ``shapes``."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for i, c in enumerate(eq):
        if not (c in _LETTERS or c in ",.->"):
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, subscripts "
                               "must be in [a-zA-Z]")
    fresh = [c for c in _LETTERS if c not in eq]
    parts, ell_ndim = [], 0
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        head, dots, tail = term.partition("...")
        if "." in head or "." in tail:
            raise RuntimeError("einsum(): found '.' for operand " f"{i} that is not part of any ellipsis")
        n = len(shape) - len(head) - len(tail)
        if not dots and n != 0:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {i} and no ellipsis was given")
        if n < 0:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(head) + len(tail)}) is more "
                               f"than the number of dimensions ({len(shape)}) for operand {i}")
        ell_ndim = max(ell_ndim, n)
        parts.append((head, n, tail))
    ell = "".join(fresh[:ell_ndim])
    subs = [head + ell[len(ell) - n:] + tail for head, n, tail in parts]
    sizes = {}
    for i, (sub, shape) in enumerate(zip(subs, shapes)):
        own = {}
        for c, s in zip(sub, shape):
            if c in own and own[c] != s:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the sizes don't match, "
                                   f"{own[c]} != {s}")
            own[c] = s
        for c, s in own.items():
            seen = sizes.get(c, 1)
            if s != seen and s != 1 and seen != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {s} for operand {i} which does not broadcast "
                                   f"with previously seen size {seen}")
            sizes[c] = builtins.max(seen, s)
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
    else:
        counts = "".join(subs)
        out = ell + "".join(sorted(c for c in sizes if counts.count(c) == 1 and c not in ell))
    return ",".join(subs) + "->" + out


def _einsum_grad(node, g):
    lhs, out = node.attrs["equation"].split("->")
    terms = lhs.split(",")
    operands = node.saved
    spare = [c for c in _LETTERS if c not in node.attrs["equation"]]
    grads = []
    for i, term in enumerate(terms):
        if node.next_edges[i] is None:
            grads.append(None)
            continue
        shape = operands[i].shape
        # a letter repeated within an operand (a diagonal) takes its gradient through identity matrices
        target, eyes, eye_subs = [], [], []
        for c, s in zip(term, shape):
            if c in target:
                r = spare.pop()
                target.append(r)
                eyes.append(_eye(s, g))
                eye_subs.append(c + r)
            else:
                target.append(c)
        sources = [out] + [t for j, t in enumerate(terms) if j != i] + eye_subs
        present = set("".join(sources))
        kept = "".join(c for c in target if c in present)
        others = [t for j, t in enumerate(operands) if j != i]
        grad = einsum(",".join(sources) + "->" + kept, g, *others, *eyes)
        if len(kept) != len(target) or any(a < b for a, b in zip(grad.shape, shape)):
            # letters summed away inside this operand alone, or broadcast from size 1 elsewhere: the
            # gradient is the same along them
            for pos, c in enumerate(target):
                if c not in present:
                    grad = grad.unsqueeze(pos)
            # dims where this operand is larger than the others it broadcast against
            grad = grad.expand(tuple(builtins.max(a, b) for a, b in zip(grad.shape, shape)))
        grads.append(grad)
    return tuple(grads)


def _eye(n, like):
    from .._creation import eye
    return eye(n, dtype=like.dtype)


_einsum_op = register_op("einsum", _einsum_grad)


def _sublist_equation(args):
    """Turn einsum's sublist form ``(op, [0, 1], op, [1, 2], [0, 2])`` into an equation and operands."""
    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[26 + s] if s < 26 else _LETTERS[s - 26] for s in sub)
    operands = list(args[0::2])
    subs = list(args[1::2])
    out = None
    if len(operands) > len(subs):
        out = operands.pop()
        if isinstance(out, Tensor):
            raise RuntimeError("einsum(): sublist format expects a sublist after each operand")
    equation = ",".join(letters(s) for s in subs)
    if out is not None:
        equation += "->" + letters(out)
    return equation, operands


def einsum(*args):
    """Einstein summation over the operands' labelled dimensions (``torch.einsum``), with '...' and implicit output."""
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one operand "
                        "and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
    else:
        equation, operands = _sublist_equation(args)
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, t in enumerate(operands):
        _tensor_arg(t, "einsum", f"operands[{i}]", 2)
    canonical = _parse_einsum(equation, tuple(t.shape for t in operands))
    dtype = operands[0].dtype
    for t in operands[1:]:
        dtype = _dtype.promote_types(dtype, t.dtype)
    operands = tuple(t if t.dtype is dtype else t.to(dtype) for t in operands)
    return dispatch(_einsum_op, operands, {"equation": canonical})


# ----- tensordot, kron, cross ----------------------------------------------------------------------
def _dims_list(dims):
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    return [dims] if isinstance(dims, int) else list(dims)


def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` of ``a`` with ``dims`` of ``b`` (an int: the last/first dims; or two lists)."""
    _tensor_arg(a, "tensordot", "a", 1)
    _tensor_arg(b, "tensordot", "b", 2)
    if isinstance(dims, Tensor) and dims.ndim == 0:
        dims = int(dims)
    if isinstance(dims, int) and not isinstance(dims, builtins.bool):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        pair = list(dims.tolist() if isinstance(dims, Tensor) else dims)
        if len(pair) != 2:
            raise RuntimeError("tensordot expects dims to be a pair of lists of dimensions")
        dims_a, dims_b = _dims_list(pair[0]), _dims_list(pair[1])
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    dims_a = [wrap_dim(d, a.ndim, "tensordot") for d in dims_a]
    dims_b = [wrap_dim(d, b.ndim, "tensordot") for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        sa, sb = a.shape[da], b.shape[db]
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} in dim {da} and second "
                               f"has size {sb} in dim {db}")
    sub_a = list(_LETTERS[26:] + _LETTERS[:26])[:a.ndim]
    sub_b = list(_LETTERS[26 + a.ndim:] + _LETTERS[:26])[:b.ndim]
    for da, db in zip(dims_a, dims_b):
        sub_b[db] = sub_a[da]
    out_subs = [c for i, c in enumerate(sub_a) if i not in dims_a] + [c for i, c in enumerate(sub_b) if i not in dims_b]
    return _finish(einsum("".join(sub_a) + "," + "".join(sub_b) + "->" + "".join(out_subs), a, b), out)


@tensor_method("kron")
def kron(input, other, *, out=None):
    """Kronecker product (``torch.kron``)."""
    _tensor_arg(input, "kron", "input", 1)
    _tensor_arg(other, "kron", "other", 2)
    n = builtins.max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    a = input.reshape(tuple(x for s in sa for x in (s, 1)))
    b = other.reshape(tuple(x for s in sb for x in (1, s)))
    return _finish((a * b).reshape(tuple(x * y for x, y in zip(sa, sb))), out)


_cross_op = register_op("cross", lambda n, g: (
    None if n.next_edges[0] is None else _cross(n.saved[1], g, n.attrs["dim"]),
    None if n.next_edges[1] is None else _cross(g, n.saved[0], n.attrs["dim"])))


def _cross(a, b, dim):
    return dispatch(_cross_op, (a, b), {"dim": dim})


def _linalg_cross(input, other, dim, name):
    _tensor_arg(input, name, "input", 1)
    _tensor_arg(other, name, "other", 2)
    if input.ndim != other.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions.")
    shape = broadcast_shapes(input.shape, other.shape, name)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected scalar type {_word(input)} but found {_word(other)}")
    d = wrap_dim(dim, len(shape), name)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    return _cross(input, other, d - len(shape))


@tensor_method("cross")
def cross(input, other, dim=None, *, out=None):
    """Cross product of 3-vectors along ``dim`` (default: the first dimension of size 3) (``torch.cross``)."""
    _tensor_arg(input, "cross", "input", 1)
    _tensor_arg(other, "cross", "other", 2)
    if dim is None:
        shape = broadcast_shapes(input.shape, other.shape, "cross")
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return _finish(_linalg_cross(input, other, dim, "linalg.cross"), out)


# ----- distances -----------------------------------------------------------------------------------
def norm_backward(x, norm, g, p):
    """Gradient of the ``p``-norm ``norm`` of ``x`` given ``g``; ``norm`` and ``g`` broadcast against ``x``.

    Zero norms get a zero gradient (the subgradient PyTorch picks), and for p=inf the gradient is
    shared evenly between the tied maxima.
    """
    from .elementwise import where
    if p == 0:
        return x * 0
    if p == 1:
        return g * x.sign()
    if p == 2:
        zero = norm == 0
        return x * where(zero, 0.0, g / where(zero, 1.0, norm))
    if p == float("inf") or p == float("-inf"):
        hit = (x.abs() == norm).to(x.dtype)
        count = _count_like(hit, norm)
        return g * x.sign() * hit / count
    mag = x.abs()
    if p < 1:
        term = where(x == 0, 0.0, x.sign() * mag.pow(p - 1))
        return term * g * norm.pow(1 - p)
    zero = norm == 0
    return x.sign() * mag.pow(p - 1) * where(zero, 0.0, g / where(zero, 1.0, norm.pow(p - 1)))


def _count_like(hit, norm):
    """Sum ``hit`` over the dims where ``norm`` (broadcastable to ``hit``) has size 1 but ``hit`` does not."""
    lead = hit.ndim - norm.ndim
    dims = list(range(lead)) + [lead + i for i, s in enumerate(norm.shape) if s == 1 and hit.shape[lead + i] != 1]
    return hit.sum(dims, keepdim=True) if dims else hit


def _cdist_grad(node, g):
    x1, x2, dist = node.saved
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    gd = norm_backward(diff, dist.unsqueeze(-1), g.unsqueeze(-1), node.attrs["p"])
    return (None if node.next_edges[0] is None else gd.sum(-2),
            None if node.next_edges[1] is None else -gd.sum(-3))


_cdist_op = register_op("cdist", _cdist_grad, save_outputs=True)
_COMPUTE_MODES = (None, "use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Pairwise p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M) (``torch.cdist``)."""
    _tensor_arg(x1, "cdist", "x1", 1)
    _tensor_arg(x2, "cdist", "x2", 2)
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if not t.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {_word(t)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"cdist: X1 and X2 must have the same dtype, but got {_word(x1)} and {_word(x2)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    broadcast_shapes(x1.shape[:-2], x2.shape[:-2], "cdist")
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode in (None, "use_mm_for_euclid_dist_if_necessary") and (x1.shape[-2] > 25 or x2.shape[-2] > 25)))
    return dispatch(_cdist_op, (x1, x2), {"p": float(p), "use_mm": use_mm})


@tensor_method("dist")
def dist(input, other, p=2):
    """The p-norm of ``input - other`` (``torch.dist``)."""
    from ..linalg import vector_norm
    return vector_norm(input - other, p)


# ----- linear-algebra shorthands at the top level (defined in framework.linalg) --------------------
@tensor_method("inverse")
def inverse(input, *, out=None):
    """Inverse of square matrices (``torch.inverse``, an alias of ``torch.linalg.inv``)."""
    from ..linalg import inv
    return inv(input, out=out)


@tensor_method("det")
def det(input):
    """Determinant of square matrices (``torch.det``)."""
    from .. import linalg
    return linalg.det(input)


@tensor_method("slogdet")
def slogdet(input):
    """Sign and log-absolute-determinant (``torch.slogdet``)."""
    from .. import linalg, return_types
    return return_types.named("slogdet", *linalg.slogdet(input))


@tensor_method("logdet")
def logdet(input):
    """log(det(input)): NaN for a negative determinant, -inf for zero (``torch.logdet``)."""
    from .. import linalg
    from .elementwise import where
    sign, logabs = linalg.slogdet(input)
    return where(sign < 0, float("nan"), where(sign == 0, float("-inf"), logabs))


@tensor_method("matrix_power")
def matrix_power(input, n):
    """``input`` raised to the integer power ``n`` (``torch.matrix_power``)."""
    from .. import linalg
    return linalg.matrix_power(input, n)


@tensor_method("cholesky")
def cholesky(input, upper=False, *, out=None):
    """Cholesky factor of symmetric positive-definite matrices (``torch.cholesky``)."""
    from .. import linalg
    return linalg.cholesky(input, upper=upper, out=out)


@tensor_method("cholesky_solve")
def cholesky_solve(input, input2, upper=False, *, out=None):
    """Solve ``A X = input`` given the Cholesky factor ``input2`` of ``A`` (``torch.cholesky_solve``)."""
    from .. import linalg
    L = input2.mT if upper else input2
    return _finish(linalg.solve(matmul(L, L.mT), input), out)


@tensor_method("cholesky_inverse")
def cholesky_inverse(input, upper=False, *, out=None):
    """Inverse of ``A`` from its Cholesky factor ``input`` (``torch.cholesky_inverse``)."""
    from .. import linalg
    L = input.mT if upper else input
    return _finish(linalg.inv(matmul(L, L.mT)), out)


@tensor_method("svd")
def svd(input, some=True, compute_uv=True, *, out=None):
    """``(U, S, V)`` with ``input = U diag(S) V^T`` (``torch.svd``; note V, not Vh)."""
    from .. import linalg, return_types
    from .._creation import zeros
    if not compute_uv:
        S = linalg.svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        U = zeros(tuple(input.shape[:-2]) + (m, m), dtype=input.dtype)
        V = zeros(tuple(input.shape[:-2]) + (n, n), dtype=input.dtype)
        return _finish(return_types.named("svd", U, S, V), out)
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    return _finish(return_types.named("svd", U, S, Vh.mT), out)


@tensor_method("qr")
def qr(input, some=True, *, out=None):
    """``(Q, R)`` (``torch.qr``; ``some=False`` gives the complete decomposition)."""
    from .. import linalg, return_types
    Q, R = linalg.qr(input, "reduced" if some else "complete")
    return _finish(return_types.named("qr", Q, R), out)


@tensor_method("pinverse")
def pinverse(input, rcond=1e-15):
    """Moore-Penrose pseudo-inverse with relative cut-off ``rcond`` (``torch.pinverse``)."""
    from .. import linalg
    return linalg.pinv(input, rtol=rcond)
