"""Element types of the machine and their numpy storage (bf16 is kept as raw uint16 bits)."""
import numpy as np

_STORAGE = {
    "fp16": np.float16, "bf16": np.uint16, "fp32": np.float32,
    "int8": np.int8, "uint8": np.uint8, "int32": np.int32,
}


def storage(dtype):
    """The numpy dtype that holds ``dtype``'s bits in a buffer."""
    try:
        return np.dtype(_STORAGE[dtype])
    except KeyError:
        raise ValueError(f"unknown element type {dtype!r}; expected one of {sorted(_STORAGE)}") from None


def itemsize(dtype):
    """Bytes per element."""
    return storage(dtype).itemsize


def bf16_to_fp32(bits):
    """Widen bf16 bit patterns (uint16) to float32 exactly."""
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def fp32_to_bf16(x):
    """Round float32 to bf16 bit patterns, round-to-nearest-even (NaN kept quiet)."""
    u = np.asarray(x, np.float32).view(np.uint32)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, np.float32))
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


def to_compute(values, dtype):
    """Stored values -> the numpy array arithmetic is done in (bf16 widens to fp32)."""
    return bf16_to_fp32(values) if dtype == "bf16" else values


def from_compute(values, dtype):
    """Arithmetic result -> stored bits of ``dtype`` (rounding to the element type)."""
    if dtype == "bf16":
        return fp32_to_bf16(values)
    return np.asarray(values).astype(storage(dtype))
