"""The LSTM / GRU gate loops of ``kernels/cpu/recurrent.py`` as CUDA kernels, in place of its Numba loops.

With these in place the CPU ``rnn_layer`` / ``rnn_layer_backward`` run on the device unchanged: a Python loop
over time steps, the hidden projection of each step one cuBLAS GEMM (the input projection of all steps is
one GEMM before the layer, ``gx``), the gate exponentials one CuPy elementwise call, and the gate maths of a
step one of these kernels (one thread per (batch, unit) pair, the Numba loop body line for line).
"""
import numpy as np

from ._raw import array_module, launch

SOURCE = r"""

__device__ T tanh_from_exp(T x) { return (T)1 - (T)2 / ((T)1 + exp((T)2 * x)); }

// e = exp(-a) for the i, f, o gates and exp(-2a) for g: sigmoid(a) = 1 / (1 + e), tanh(a) = 2 / (1 + e) - 1
extern "C" __global__ void lstm_cell(long long total, const T* e, const T* c, T* h_out, T* c_out, T* ws,
                                     long long hidden) {
    GRID_STRIDE(k) {
        long long b = k / hidden, j = k % hidden;
        const T* eb = e + b * 4 * hidden;
        T* wb = ws + b * 5 * hidden;
        T i = (T)1 / ((T)1 + eb[j]), f = (T)1 / ((T)1 + eb[hidden + j]);
        T g = (T)2 / ((T)1 + eb[2 * hidden + j]) - (T)1, o = (T)1 / ((T)1 + eb[3 * hidden + j]);
        T cn = f * c[k] + i * g, tc = tanh_from_exp(cn);
        wb[j] = i; wb[hidden + j] = f; wb[2 * hidden + j] = g; wb[3 * hidden + j] = o; wb[4 * hidden + j] = tc;
        c_out[k] = cn;
        h_out[k] = o * tc;
    }
}

extern "C" __global__ void lstm_cell_grad(long long total, const T* ws, const T* c, const T* dh, const T* dc,
                                          T* da, T* dc_prev, long long hidden) {
    GRID_STRIDE(k) {
        long long b = k / hidden, j = k % hidden;
        const T* wb = ws + b * 5 * hidden;
        T* db = da + b * 4 * hidden;
        T i = wb[j], f = wb[hidden + j], g = wb[2 * hidden + j], o = wb[3 * hidden + j], tc = wb[4 * hidden + j];
        T d = dc[k] + dh[k] * o * ((T)1 - tc * tc);
        db[j] = d * g * i * ((T)1 - i);
        db[hidden + j] = d * c[k] * f * ((T)1 - f);
        db[2 * hidden + j] = d * i * ((T)1 - g * g);
        db[3 * hidden + j] = dh[k] * tc * o * ((T)1 - o);
        dc_prev[k] = d * f;
    }
}

// e = exp(-a) for the r and z gates (first 2 * hidden columns)
extern "C" __global__ void gru_cell(long long total, const T* e, const T* gx, const T* gh, const T* h, T* h_out,
                                    T* ws, long long hidden) {
    GRID_STRIDE(k) {
        long long b = k / hidden, j = k % hidden;
        T r = (T)1 / ((T)1 + e[b * 2 * hidden + j]), z = (T)1 / ((T)1 + e[b * 2 * hidden + hidden + j]);
        T ghn = gh[b * 3 * hidden + 2 * hidden + j];
        T n = tanh_from_exp(gx[b * 3 * hidden + 2 * hidden + j] + r * ghn);
        T* wb = ws + b * 4 * hidden;
        wb[j] = r; wb[hidden + j] = z; wb[2 * hidden + j] = n; wb[3 * hidden + j] = ghn;
        h_out[k] = n + z * (h[k] - n);
    }
}

extern "C" __global__ void gru_cell_grad(long long total, const T* ws, const T* h, const T* dh, T* dgx, T* dgh,
                                         T* dh_prev, long long hidden) {
    GRID_STRIDE(k) {
        long long b = k / hidden, j = k % hidden;
        const T* wb = ws + b * 4 * hidden;
        T r = wb[j], z = wb[hidden + j], n = wb[2 * hidden + j], ghn = wb[3 * hidden + j];
        T dn = dh[k] * ((T)1 - z) * ((T)1 - n * n);
        T dr = dn * ghn * r * ((T)1 - r);
        T dz = dh[k] * (h[k] - n) * z * ((T)1 - z);
        T* gxb = dgx + b * 3 * hidden;
        T* ghb = dgh + b * 3 * hidden;
        gxb[j] = dr; ghb[j] = dr;
        gxb[hidden + j] = dz; ghb[hidden + j] = dz;
        gxb[2 * hidden + j] = dn; ghb[2 * hidden + j] = dn * r;
        dh_prev[k] = dh[k] * z;
    }
}
"""


def _cell(name, state, outputs):
    """Replacement for a Numba gate loop: CUDA kernel ``name``, one thread per element of argument ``state``.

    Arguments ``outputs`` are written; an argument that is not a C-contiguous array of float32/float64
    (a strided time step, a float16 layer) goes through a contiguous working copy.
    """
    def run(*arrays):
        xp = array_module(arrays[state])
        dtype = arrays[state].dtype
        dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)
        work = [xp.ascontiguousarray(a, dtype=dtype) for a in arrays]
        batch, hidden = arrays[state].shape
        launch(SOURCE, name, dtype, batch * hidden, *work, hidden)
        for k in outputs:
            if work[k] is not arrays[k]:
                arrays[k][...] = work[k]
    run.__name__ = name
    return run


LOOPS = {"kernels.cpu.recurrent": {
    "_lstm_loop": _cell("lstm_cell", 1, (2, 3, 4)), "_lstm_grad_loop": _cell("lstm_cell_grad", 1, (4, 5)),
    "_gru_loop": _cell("gru_cell", 3, (4, 5)), "_gru_grad_loop": _cell("gru_cell_grad", 1, (3, 4, 5)),
}}
