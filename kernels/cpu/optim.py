"""Fused optimizer updates: one pass per parameter over grad, param and state, in place on the raw arrays.

Each ``*_update`` takes the gradient first (read only), then the arrays it writes (param, then state; ``None``
for state a configuration does not use), then keyword hyper-parameters. The formulas follow PyTorch's
single-tensor (for-loop) implementations operation by operation, in the parameter's dtype, so trajectories
match torch's. float32/float64 contiguous arrays are updated in place by a Numba loop; anything else (float16,
bfloat16 bits, non-contiguous views) runs the same loop on a float32 copy that is written back. From ``SPLIT_MIN``
elements the loop runs in ranges on OpenBLAS's threads at once (the same arithmetic per element: same bits).
"""
import numpy as np

from . import openblas_threads
from ._numba import jit
from .bfloat16 import bfloat16_bits_to_float32, float32_to_bfloat16_bits

SPLIT_MIN = 65_536  # elements from which an update is shared among OpenBLAS's threads (openblas_threads.py)

# error_model="numpy": IEEE division (no ZeroDivisionError check per element), which lets the loops vectorise.
_UNUSED = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0, np.float64)}


@jit(error_model="numpy")
def _adam(g, p, m, v, vmax, s, lerp_lo, amsgrad, decoupled):
    sign, wd, decay, w1, omw1, beta2, c2, bc2_sqrt, eps, neg_step = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                                                                     s[8], s[9])
    for i in range(p.shape[0]):
        gi = sign * g[i]
        pi = p[i]
        if decoupled:
            pi = pi * decay
        elif wd != 0:
            gi = gi + wd * pi
        mi = m[i]
        mi = mi + w1 * (gi - mi) if lerp_lo else gi - (gi - mi) * omw1
        vi = v[i] * beta2
        vi = vi + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = vmax[i]
            if vi > vm or vi != vi:
                vm = vi
            vmax[i] = vm
            vi = vm
        denom = np.sqrt(vi) / bc2_sqrt + eps
        p[i] = pi + neg_step * (mi / denom)


@jit(error_model="numpy")
def _sgd(g, p, buf, s, use_momentum, first, nesterov):
    sign, wd, momentum, damp1, neg_lr = s[0], s[1], s[2], s[3], s[4]
    for i in range(p.shape[0]):
        gi = sign * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        if use_momentum:
            b = gi if first else buf[i] * momentum + damp1 * gi
            buf[i] = b
            gi = gi + momentum * b if nesterov else b
        p[i] = p[i] + neg_lr * gi


@jit(error_model="numpy")
def _rmsprop(g, p, sq, gavg, buf, s, lerp_lo, centered, use_momentum):
    sign, wd, alpha, c, omc, eps, momentum, neg_lr = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
    for i in range(p.shape[0]):
        gi = sign * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        s = sq[i] * alpha
        s = s + c * gi * gi
        sq[i] = s
        if centered:
            a = gavg[i]
            a = a + c * (gi - a) if lerp_lo else gi - (gi - a) * omc
            gavg[i] = a
            avg = np.sqrt(s - a * a)
        else:
            avg = np.sqrt(s)
        avg = avg + eps
        if use_momentum:
            b = buf[i] * momentum + gi / avg
            buf[i] = b
            p[i] = p[i] + neg_lr * b
        else:
            p[i] = p[i] + neg_lr * (gi / avg)


@jit(error_model="numpy")
def _adagrad(g, p, total, s):
    sign, wd, eps, neg_clr = s[0], s[1], s[2], s[3]
    for i in range(p.shape[0]):
        gi = sign * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        s = total[i] + gi * gi
        total[i] = s
        p[i] = p[i] + neg_clr * (gi / (np.sqrt(s) + eps))


@jit(error_model="numpy")
def _adadelta(g, p, sq, acc, s):
    sign, wd, rho, c, eps, neg_lr = s[0], s[1], s[2], s[3], s[4], s[5]
    for i in range(p.shape[0]):
        gi = sign * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        s = sq[i] * rho + c * gi * gi
        sq[i] = s
        delta = np.sqrt(acc[i] + eps) / np.sqrt(s + eps) * gi
        acc[i] = acc[i] * rho + c * delta * delta
        p[i] = p[i] + neg_lr * delta


def _compute_dtype(array):
    return np.dtype(np.float64) if array.dtype == np.float64 else np.dtype(np.float32)


def _to_compute(array, dt):
    if array.dtype == np.uint16:  # bfloat16 bits
        array = bfloat16_bits_to_float32(array)
    return np.ascontiguousarray(array, dtype=dt).reshape(-1)


def _launch(kernel, grad, written, scalars, flags):
    """Run ``kernel(grad, *written, scalars, *flags)`` on flat arrays of one compute dtype, writing copies back."""
    dt = _compute_dtype(written[0])
    flat, copies = [], []
    for a in written:
        if a is None:
            flat.append(_UNUSED[dt])
        elif a.dtype == dt and a.flags.c_contiguous and getattr(a.flags, "writeable", True):  # CuPy: no such flag
            flat.append(a.reshape(-1))
        else:
            c = _to_compute(a, dt)
            flat.append(c)
            copies.append((a, c))
    g = grad.reshape(-1) if grad.dtype == dt and grad.flags.c_contiguous else _to_compute(grad, dt)
    # the scalars travel as one array of the compute dtype: float32 math for float32 params, as in PyTorch
    jobs = min(openblas_threads.threads(), g.size // SPLIT_MIN + 1) if g.size >= SPLIT_MIN else 1
    if jobs > 1:
        _split(kernel, g, flat, np.array(scalars, dt), flags, jobs)
    else:
        kernel(g, *flat, np.array(scalars, dt), *flags)
    for a, c in copies:
        c = c.reshape(a.shape)
        a[...] = float32_to_bfloat16_bits(c) if a.dtype == np.uint16 else c


def _job_source(kernel, dt, n_written, n_flags):
    """A module whose ``job(d)`` (``void job(void *)``) runs ``kernel`` on elements ``d[0]:d[1]``; ``d`` then holds
    (address, length) of the gradient, of each written array (length 0: unused) and of the scalars, then the
    flags."""
    from .fused import job_header
    T, item = f"np.{dt.name}", dt.itemsize
    src = ["import numba", "import numpy as np", f"from kernels.cpu.optim import {kernel.fn.__name__}"]
    src += job_header(2 + 2 * (n_written + 2) + n_flags) + ["    n = hi - lo"]
    names = []
    for k in range(n_written + 1):
        at = 2 + 2 * k
        src.append(f"    x{k} = numba.carray(pointer_to(d[{at}] + (lo * {item} if d[{at + 1}] else 0), {T}(0)), "
                   f"(n if d[{at + 1}] else 0,))")
        names.append(f"x{k}")
    at = 2 + 2 * (n_written + 1)
    src.append(f"    s = numba.carray(pointer_to(d[{at}], {T}(0)), (d[{at + 1}],))")
    flags = [f"d[{at + 2 + k}] != 0" for k in range(n_flags)]
    src.append(f"    {kernel.fn.__name__}({', '.join(names + ['s'] + flags)})")
    return "\n".join(src) + "\n"


_JOBS = {}


def _split(kernel, g, flat, scalars, flags, jobs):
    """``kernel`` on ``jobs`` ranges of the elements at once, on OpenBLAS's threads (``openblas_threads``)."""
    key = (kernel.fn.__name__, g.dtype, len(flat), len(flags))
    job = _JOBS.get(key)
    if job is None:
        from .fused import _load
        job = _JOBS[key] = _load(_job_source(kernel, g.dtype, len(flat), len(flags)), "job").address
    row = [0, 0]
    for a in (g, *flat, scalars):
        row += [a.__array_interface__["data"][0], a.size]
    table = np.array([row + [int(bool(f)) for f in flags]] * jobs, np.int64)
    for j in range(jobs):
        table[j, 0], table[j, 1] = g.size * j // jobs, g.size * (j + 1) // jobs
    openblas_threads.run(job, table)


def _sign(maximize):
    return -1.0 if maximize else 1.0


def adam_update(grad, param, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, step,
                amsgrad, maximize, decoupled_weight_decay):
    """One Adam/AdamW step (``step`` already counts this one); ``max_exp_avg_sq`` is None without amsgrad."""
    bc1 = 1 - beta1 ** step
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    decay = 1 - lr * weight_decay if decoupled_weight_decay else 1.0
    w1 = 1 - beta1
    scalars = (_sign(maximize), weight_decay, decay, w1, 1 - w1, beta2, 1 - beta2, bc2_sqrt, eps, -(lr / bc1))
    _launch(_adam, grad, (param, exp_avg, exp_avg_sq, max_exp_avg_sq), scalars,
            (abs(w1) < 0.5, bool(amsgrad), bool(decoupled_weight_decay and weight_decay != 0)))


def sgd_update(grad, param, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """One SGD step; ``first`` makes the momentum buffer start as the (decayed) gradient itself."""
    scalars = (_sign(maximize), weight_decay, momentum, 1 - dampening, -lr)
    _launch(_sgd, grad, (param, momentum_buffer), scalars, (momentum != 0, bool(first), bool(nesterov)))


def rmsprop_update(grad, param, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps, weight_decay, momentum,
                   centered, maximize):
    """One RMSprop step; ``grad_avg`` is None unless centered, ``momentum_buffer`` None unless momentum > 0."""
    c = 1 - alpha
    scalars = (_sign(maximize), weight_decay, alpha, c, 1 - c, eps, momentum, -lr)
    _launch(_rmsprop, grad, (param, square_avg, grad_avg, momentum_buffer), scalars,
            (abs(c) < 0.5, bool(centered), momentum > 0))


def adagrad_update(grad, param, state_sum, *, lr, lr_decay, weight_decay, eps, step, maximize):
    """One Adagrad step (``step`` already counts this one)."""
    clr = lr / (1 + (step - 1) * lr_decay)
    _launch(_adagrad, grad, (param, state_sum), (_sign(maximize), weight_decay, eps, -clr), ())


def adadelta_update(grad, param, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step."""
    _launch(_adadelta, grad, (param, square_avg, acc_delta), (_sign(maximize), weight_decay, rho, 1 - rho, eps, -lr),
            ())


KERNELS = {"adam_update": adam_update, "sgd_update": sgd_update, "rmsprop_update": rmsprop_update,
           "adagrad_update": adagrad_update, "adadelta_update": adadelta_update}
