"""im2col / col2im for 1-D and 2-D convolution as CUDA kernels, in place of the CPU kernels' Numba loops.

The CPU conv kernels (GEMMs through ``matmul``, cuBLAS here) run unchanged around these two loops, which
keep the loops' signatures: ``cols`` is (C * kh * kw, N, oh * ow) and ``x`` a contiguous (N, C, H, W).
col2im gathers (each input cell sums the column entries that read it), so it needs no atomics.
"""
from ._raw import launch

SOURCE = r"""

extern "C" __global__ void im2col(long long total, const T* x, T* cols, GEOMETRY) {
    GRID_STRIDE(k) {
        long long z = k % ow, t = k / ow;
        long long y = t % oh; t /= oh;
        long long n = t % batch; t /= batch;
        long long j = t % kw; t /= kw;
        long long i = t % kh, c = t / kh;
        long long r = y * sh - ph + i * dh, q = z * sw - pw + j * dw;
        cols[k] = (r >= 0 && r < h && q >= 0 && q < w) ? x[((n * channels + c) * h + r) * w + q] : (T)0;
    }
}

extern "C" __global__ void col2im(long long total, const T* cols, T* out, GEOMETRY) {
    GRID_STRIDE(k) {
        long long q = k % w, t = k / w;
        long long r = t % h; t /= h;
        long long c = t % channels, n = t / channels;
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
                if (z >= ow) continue;
                acc += cols[((((c * kh + i) * kw + j) * batch + n) * oh + y) * ow + z];
            }
        }
        out[k] += acc;
    }
}
"""


def _im2col2d(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    launch(SOURCE, "im2col", x.dtype, cols.size, x, cols, *x.shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def _col2im2d(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out):
    launch(SOURCE, "col2im", out.dtype, out.size, cols, out, *out.shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


LOOPS = {"kernels.cpu.conv": {"_im2col2d": _im2col2d, "_col2im2d": _col2im2d}}
