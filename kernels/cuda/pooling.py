"""2-D (and 1-D) max and average pooling as CUDA kernels, in place of the CPU pooling kernels' Numba loops.

One thread per output cell for the forward loops; the average-pool adjoint gathers per input cell (no
atomics). The loops keep the CPU loops' signatures, so the CPU kernels' geometry and divisor code run as is.
"""
from ._raw import launch

SOURCE = r"""

// PyTorch's rule per window: start at its first cell inside x, move on at a larger value or any NaN.
extern "C" __global__ void max_pool(long long total, const T* x, T* values, long long* indices, GEOMETRY) {
    GRID_STRIDE(k) {
        long long z = k % ow, y = (k / ow) % oh, plane = k / (ow * oh);
        const T* src = x + plane * h * w;
        T best = (T)(-__longlong_as_double(0x7ff0000000000000LL));  // -inf (NVRTC has no INFINITY)
        long long at = -1;
        for (long long i = 0; i < kh; ++i) {
            long long r = y * sh - ph + i * dh;
            if (r < 0 || r >= h) continue;
            for (long long j = 0; j < kw; ++j) {
                long long q = z * sw - pw + j * dw;
                if (q < 0 || q >= w) continue;
                T v = src[r * w + q];
                if (at < 0) at = r * w + q;
                if (v > best || v != v) { best = v; at = r * w + q; }
            }
        }
        values[k] = best;
        indices[k] = at;
    }
}

extern "C" __global__ void window_sum(long long total, const T* x, T* out, GEOMETRY) {
    GRID_STRIDE(k) {
        long long z = k % ow, y = (k / ow) % oh, plane = k / (ow * oh);
        const T* src = x + plane * h * w;
        T acc = 0;
        for (long long i = 0; i < kh; ++i) {
            long long r = y * sh - ph + i * dh;
            if (r < 0 || r >= h) continue;
            for (long long j = 0; j < kw; ++j) {
                long long q = z * sw - pw + j * dw;
                if (q >= 0 && q < w) acc += src[r * w + q];
            }
        }
        out[k] += acc;
    }
}

extern "C" __global__ void window_spread(long long total, const T* share, T* out, GEOMETRY) {
    GRID_STRIDE(k) {
        long long q = k % w, r = (k / w) % h, plane = k / (w * h);
        const T* src = share + plane * oh * ow;
        T acc = 0;
        for (long long i = 0; i < kh; ++i) {
            long long ry = r + ph - i * dh;
            if (ry < 0 || ry % sh) continue;
            long long y = ry / sh;
            if (y >= oh) continue;
            for (long long j = 0; j < kw; ++j) {
                long long qz = q + pw - j * dw;
                if (qz < 0 || qz % sw) continue;
                long long z = qz / sw;
                if (z < ow) acc += src[y * ow + z];
            }
        }
        out[k] += acc;
    }
}
"""


def _max_pool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, values, indices):
    launch(SOURCE, "max_pool", x.dtype, values.size, x, values, indices, *x.shape, kh, kw, sh, sw, ph, pw, dh, dw,
           oh, ow)


def _window_sum2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, total):
    launch(SOURCE, "window_sum", x.dtype, total.size, x, total, *x.shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def _window_spread2d(share, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out):
    launch(SOURCE, "window_spread", out.dtype, out.size, share, out, *out.shape, kh, kw, sh, sw, ph, pw, dh, dw,
           oh, ow)


LOOPS = {"kernels.cpu.pooling": {"_max_pool2d": _max_pool2d, "_window_sum2d": _window_sum2d,
                                 "_window_spread2d": _window_spread2d}}
