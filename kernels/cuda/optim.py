"""Fused optimizer updates as CUDA kernels, in place of the Numba loops of ``kernels/cpu/optim.py``.

Each kernel is that loop line for line (same scalars array ``s``, same flags, same operation order), one
thread per element, so the CPU ``*_update`` functions (hyper-parameter folding, bfloat16 and
non-contiguous handling through ``_launch``) run unchanged on device arrays.
"""
import math

from ._raw import launch

SOURCE = r"""

extern "C" __global__ void adam(long long total, const T* g, T* p, T* m, T* v, T* vmax, const T* s,
                                long long lerp_lo, long long amsgrad, long long decoupled) {
    T sign = s[0], wd = s[1], decay = s[2], w1 = s[3], omw1 = s[4], beta2 = s[5], c2 = s[6], bc2_sqrt = s[7],
      eps = s[8], neg_step = s[9];
    GRID_STRIDE(i) {
        T gi = sign * g[i], pi = p[i];
        if (decoupled) pi = pi * decay;
        else if (wd != 0) gi = gi + wd * pi;
        T mi = m[i];
        mi = lerp_lo ? mi + w1 * (gi - mi) : gi - (gi - mi) * omw1;
        T vi = v[i] * beta2;
        vi = vi + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            T vm = vmax[i];
            if (vi > vm || vi != vi) vm = vi;
            vmax[i] = vm;
            vi = vm;
        }
        T denom = sqrt(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * (mi / denom);
    }
}

extern "C" __global__ void sgd(long long total, const T* g, T* p, T* buf, const T* s, long long use_momentum,
                               long long first, long long nesterov) {
    T sign = s[0], wd = s[1], momentum = s[2], damp1 = s[3], neg_lr = s[4];
    GRID_STRIDE(i) {
        T gi = sign * g[i];
        if (wd != 0) gi = gi + wd * p[i];
        if (use_momentum) {
            T b = first ? gi : buf[i] * momentum + damp1 * gi;
            buf[i] = b;
            gi = nesterov ? gi + momentum * b : b;
        }
        p[i] = p[i] + neg_lr * gi;
    }
}

extern "C" __global__ void rmsprop(long long total, const T* g, T* p, T* sq, T* gavg, T* buf, const T* s,
                                   long long lerp_lo, long long centered, long long use_momentum) {
    T sign = s[0], wd = s[1], alpha = s[2], c = s[3], omc = s[4], eps = s[5], momentum = s[6], neg_lr = s[7];
    GRID_STRIDE(i) {
        T gi = sign * g[i];
        if (wd != 0) gi = gi + wd * p[i];
        T si = sq[i] * alpha;
        si = si + c * gi * gi;
        sq[i] = si;
        T avg;
        if (centered) {
            T a = gavg[i];
            a = lerp_lo ? a + c * (gi - a) : gi - (gi - a) * omc;
            gavg[i] = a;
            avg = sqrt(si - a * a);
        } else {
            avg = sqrt(si);
        }
        avg = avg + eps;
        if (use_momentum) {
            T b = buf[i] * momentum + gi / avg;
            buf[i] = b;
            p[i] = p[i] + neg_lr * b;
        } else {
            p[i] = p[i] + neg_lr * (gi / avg);
        }
    }
}

extern "C" __global__ void adagrad(long long total, const T* g, T* p, T* sum, const T* s) {
    T sign = s[0], wd = s[1], eps = s[2], neg_clr = s[3];
    GRID_STRIDE(i) {
        T gi = sign * g[i];
        if (wd != 0) gi = gi + wd * p[i];
        T si = sum[i] + gi * gi;
        sum[i] = si;
        p[i] = p[i] + neg_clr * (gi / (sqrt(si) + eps));
    }
}

extern "C" __global__ void adadelta(long long total, const T* g, T* p, T* sq, T* acc, const T* s) {
    T sign = s[0], wd = s[1], rho = s[2], c = s[3], eps = s[4], neg_lr = s[5];
    GRID_STRIDE(i) {
        T gi = sign * g[i];
        if (wd != 0) gi = gi + wd * p[i];
        T si = sq[i] * rho + c * gi * gi;
        sq[i] = si;
        T delta = sqrt(acc[i] + eps) / sqrt(si + eps) * gi;
        acc[i] = acc[i] * rho + c * delta * delta;
        p[i] = p[i] + neg_lr * delta;
    }
}
"""


def _kernel(name):
    def run(g, p, *rest):
        launch(SOURCE, name, p.dtype, p.size, g, p, *(int(a) if isinstance(a, bool) else a for a in rest))
    run.__name__ = name
    return run


class _Empty(dict):
    """``_UNUSED``'s device twin: an empty array per dtype, made on first use (no GPU work at import)."""

    def __missing__(self, dtype):
        import cupy
        self[dtype] = cupy.empty(0, dtype)
        return self[dtype]


# a device update is one kernel launch: never cut into ranges for OpenBLAS's host threads
LOOPS = {"kernels.cpu.optim": {"_adam": _kernel("adam"), "_sgd": _kernel("sgd"), "_rmsprop": _kernel("rmsprop"),
                               "_adagrad": _kernel("adagrad"), "_adadelta": _kernel("adadelta"),
                               "_UNUSED": _Empty(), "SPLIT_MIN": math.inf}}
