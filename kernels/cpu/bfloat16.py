"""bfloat16 stored honestly: the upper 16 bits of a float32, held in uint16 arrays."""
import numpy as np


def bfloat16_bits_to_float32(bits):
    """Widen raw bfloat16 patterns to float32 values (exact)."""
    wide = np.asarray(bits, dtype=np.uint16).astype(np.uint32)
    wide <<= 16  # in place: a 0-d array stays an array rather than becoming a numpy scalar
    return wide.view(np.float32)


def float32_to_bfloat16_bits(values):
    """Round float32 values to the nearest bfloat16 (ties to even; NaN stays NaN) and return the bits."""
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(np.shape(values))  # keeps 0-d as 0-d
    u = values.view(np.uint32)
    rounded = np.asarray(((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16))
    nan = np.isnan(values)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16) | np.uint32(0x0040)).astype(np.uint16)
    return rounded
