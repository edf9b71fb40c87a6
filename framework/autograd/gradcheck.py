"""Numerical gradient checks: compare autograd against central finite differences."""
import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _inputs_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _outputs_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _float_outputs(fn, inputs):
    return [o.detach()._values().astype(np.float64).ravel() for o in _outputs_tuple(fn(*inputs))
            if o.dtype.is_floating_point]


def _numerical_jacobian(fn, inputs, index, eps):
    """Central differences, perturbing input ``index`` element by element in its own memory.

    Grad mode stays on: gradgradcheck's function itself calls autograd.grad.
    """
    base = inputs[index]._data
    if not base.flags.c_contiguous:
        raise GradcheckError("gradcheck needs contiguous inputs")
    flat = base.reshape(-1)
    columns = []
    for k in range(flat.size):
        orig = flat[k].copy()
        flat[k] = orig + eps
        plus = _float_outputs(fn, inputs)
        flat[k] = orig - eps
        minus = _float_outputs(fn, inputs)
        flat[k] = orig
        columns.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]) if plus else np.zeros(0))
    return np.stack(columns, axis=0) if columns else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, index):
    from . import grad as autograd_grad
    from .. import _creation
    outputs = [o for o in _outputs_tuple(fn(*inputs)) if o.dtype.is_floating_point]
    sizes = [o.numel() for o in outputs]
    rows = []
    for oi, out in enumerate(outputs):
        for k in range(sizes[oi]):
            cot = np.zeros(out.shape, dtype=out.dtype.np)
            cot.reshape(-1)[k] = 1
            if not out.requires_grad:
                rows.append(np.zeros(inputs[index].numel()))
                continue
            (g,) = autograd_grad(out, inputs[index], _creation.tensor(cot), retain_graph=True, allow_unused=True)
            rows.append(np.zeros(inputs[index].numel()) if g is None else g._values().astype(np.float64).ravel())
    return np.stack(rows, axis=1) if rows else np.zeros((inputs[index].numel(), 0))


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Check autograd's gradients of ``func`` at ``inputs`` against finite differences (use float64 inputs)."""
    if check_forward_ad or check_batched_grad or check_batched_forward_grad:
        raise NotImplementedError("gradcheck: forward-mode AD and batched gradients are not supported")
    inputs = _inputs_tuple(inputs)
    from .._tensor import Tensor
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            if x.dtype.name != "float64":
                import warnings
                warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. This "
                              "check will likely fail if all the inputs are not of double precision floating point.")
            numerical = _numerical_jacobian(func, inputs, i, eps)
            analytical = _analytical_jacobian(func, inputs, i)
            if numerical.shape != analytical.shape or not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                         f"numerical:{numerical}\nanalytical:{analytical}\n")
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Check second derivatives: gradcheck of the first derivative computed with create_graph=True."""
    from . import grad as autograd_grad
    from .. import _creation
    inputs = _inputs_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]
    outputs = _outputs_tuple(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_creation.tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True)
                             for o in outputs)
    grad_outputs = _inputs_tuple(grad_outputs)
    n = len(inputs)

    def first_derivative(*args):
        xs, gos = args[:n], args[n:]
        outs = _outputs_tuple(func(*xs))
        grads = autograd_grad(outs, [xs[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
