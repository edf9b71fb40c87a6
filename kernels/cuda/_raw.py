"""CUDA C kernels for CuPy: each source is compiled once per element type ``T`` on first launch.

Sources are plain CUDA C with ``extern "C"`` entry points over a typedef'd ``T``, so they compile with
NVRTC (what CuPy uses) or ``nvcc`` alike; ``compile_source`` is how tests check them without a GPU.
Integer arguments travel as ``long long``; every kernel is a grid-stride loop over ``total`` items.
"""
import numpy as np

CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double", np.dtype(np.int8): "signed char",
          np.dtype(np.uint8): "unsigned char", np.dtype(np.int16): "short", np.dtype(np.int32): "int",
          np.dtype(np.int64): "long long"}
_THREADS = 256
_MAX_BLOCKS = 65535
_modules = {}


def array_module(array):
    """numpy for a host array (the tests' emulator runs kernels on those), else CuPy."""
    if isinstance(array, np.ndarray):
        return np
    import cupy
    return cupy


# Macros every source may use: the grid-stride loop over ``total`` items, and the parameter list of a sliding
# window over (batch, channels, h, w) planes (conv's im2col/col2im and pooling share it).
PRELUDE = r"""
#define GRID_STRIDE(k) for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < total; \
    k += (long long)blockDim.x * gridDim.x)
#define GEOMETRY long long batch, long long channels, long long h, long long w, long long kh, long long kw, \
    long long sh, long long sw, long long ph, long long pw, long long dh, long long dw, long long oh, long long ow
"""


def typed_source(source, dtype):
    """``source`` with ``T`` defined as the C type of ``dtype`` and the shared macros (``PRELUDE``) before it."""
    return f"typedef {CTYPES[np.dtype(dtype)]} T;\n{PRELUDE}{source}"


def function(source, name, dtype):
    """The compiled kernel ``name`` of ``source`` for element type ``dtype`` (cached per source and dtype)."""
    key = (source, np.dtype(dtype))
    module = _modules.get(key)
    if module is None:
        import cupy
        module = _modules[key] = cupy.RawModule(code=typed_source(source, dtype))
    return module.get_function(name)


def launch(source, name, dtype, total, *args):
    """Run kernel ``name`` over ``total`` items: arrays pass as pointers, Python ints as ``long long``."""
    if total == 0:
        return
    blocks = min((total + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
    cast = tuple(np.int64(a) if isinstance(a, (int, np.integer)) and not isinstance(a, bool) else a for a in args)
    function(source, name, dtype)((blocks,), (_THREADS,), (np.int64(total),) + cast)


def launch_rows(source, name, dtype, rows, *args):
    """Run kernel ``name`` with one block of ``_THREADS`` threads per row (block reductions)."""
    if rows == 0:
        return
    cast = tuple(np.int64(a) if isinstance(a, (int, np.integer)) else a for a in args)
    function(source, name, dtype)((rows,), (_THREADS,), cast)


def compile_source(source, dtype, arch="compute_80"):
    """PTX of ``source`` for ``dtype`` through NVRTC (no GPU needed); raises with NVRTC's log on an error."""
    from cupy_backends.cuda.libs import nvrtc
    program = nvrtc.createProgram(typed_source(source, dtype), "kernel.cu", [], [])
    try:
        nvrtc.compileProgram(program, [f"-arch={arch}"])
    except nvrtc.NVRTCError as error:
        raise RuntimeError(f"{error}\n{nvrtc.getProgramLog(program)}") from None
    return nvrtc.getPTX(program)
