"""Memory levels: per-core buffers with capacities and alignment, and the shared global memory (GM).

Nothing is allowed silently past a buffer's end: the hardware would corrupt data, so an allocation or
an instruction operand outside a buffer is an error raised while the program is built.
"""
from typing import NamedTuple

import numpy as np

from .dtypes import storage

LOCAL_LEVELS = ("L1", "L0A", "L0B", "L0C", "UB", "BT", "FB")


class BufferError_(Exception):
    """Base of the memory errors (capacity, alignment, range)."""


class CapacityError(BufferError_):
    """An allocation does not fit in what is left of a buffer."""


class AlignmentError(BufferError_):
    """An operand address does not respect its buffer's alignment."""


class RangeError(BufferError_):
    """An operand lies (partly) outside its buffer or GM allocation."""


class Region(NamedTuple):
    """A byte range in one memory level (``level`` is 'GM' or a local buffer name)."""

    level: str
    offset: int
    nbytes: int

    def sub(self, offset, nbytes):
        """A sub-range of this region (offset relative to its start)."""
        if offset < 0 or offset + nbytes > self.nbytes:
            raise RangeError(f"sub-range [{offset}, {offset + nbytes}) outside {self}")
        return Region(self.level, self.offset + offset, nbytes)


def capacity(config, level):
    """Capacity in bytes of a local buffer on this machine."""
    return getattr(config, level.lower() + "_bytes")


def alignment(config, level):
    """Required address alignment of a local buffer (BT/FB: 64 B)."""
    return getattr(config, "align_" + level.lower(), 64)


class Allocator:
    """Static bump allocation of one core's buffers, as a kernel's buffer set-up does."""

    def __init__(self, config):
        self.config = config
        self.used = {level: 0 for level in LOCAL_LEVELS}

    def alloc(self, level, nbytes):
        """Reserve ``nbytes`` (rounded up to the alignment) in ``level``; CapacityError if full."""
        if level not in self.used:
            raise ValueError(f"unknown buffer {level!r}; expected one of {LOCAL_LEVELS}")
        align = alignment(self.config, level)
        start = -(-self.used[level] // align) * align
        cap = capacity(self.config, level)
        if start + nbytes > cap:
            raise CapacityError(f"{level}: allocating {nbytes} B at offset {start} exceeds the "
                                f"{cap} B buffer of {self.config.name} ({cap - start} B left)")
        self.used[level] = start + nbytes
        return Region(level, start, nbytes)


def check_local(config, region, align=True):
    """Raise if ``region`` is outside its buffer or misaligned."""
    cap = capacity(config, region.level)
    if region.offset < 0 or region.offset + region.nbytes > cap:
        raise RangeError(f"{region.level}: [{region.offset}, {region.offset + region.nbytes}) "
                         f"outside the {cap} B buffer")
    a = alignment(config, region.level)
    if align and region.offset % a:
        raise AlignmentError(f"{region.level}: offset {region.offset} is not {a}-byte aligned")


class LocalMemory:
    """Backing bytes of one core's buffers (only when numerics are simulated)."""

    def __init__(self, config):
        self.config = config
        self.bytes = {}

    def view(self, region, dtype, shape=None):
        """A writable numpy view of ``region`` as ``dtype`` (optionally reshaped)."""
        buf = self.bytes.get(region.level)
        if buf is None:
            buf = self.bytes[region.level] = np.zeros(capacity(self.config, region.level), np.uint8)
        arr = buf[region.offset:region.offset + region.nbytes].view(storage(dtype))
        return arr if shape is None else arr.reshape(shape)


class GlobalMemory:
    """The chip's GM: 512-byte-aligned allocations, optionally backed by numpy bytes."""

    def __init__(self, numerics=True):
        self.numerics = numerics
        self.top = 0
        self.blocks = {}   # offset -> (nbytes, backing or None)

    def alloc(self, nbytes, data=None):
        """Reserve GM bytes; ``data`` (a numpy array) initialises them when numerics are on."""
        start = -(-self.top // 512) * 512
        self.top = start + nbytes
        backing = None
        if self.numerics:
            backing = np.zeros(nbytes, np.uint8)
            if data is not None:
                raw = np.ascontiguousarray(data).view(np.uint8).ravel()
                backing[:raw.size] = raw
        self.blocks[start] = (nbytes, backing)
        return Region("GM", start, nbytes)

    def block_of(self, offset, nbytes):
        """(start, backing) of the allocation holding ``[offset, offset+nbytes)``."""
        for start, (size, backing) in self.blocks.items():
            if start <= offset and offset + nbytes <= start + size:
                return start, backing
        raise RangeError(f"GM: [{offset}, {offset + nbytes}) is not inside one allocation")

    def read(self, region, dtype, shape=None):
        """A numpy view of a GM region as ``dtype``."""
        start, backing = self.block_of(region.offset, region.nbytes)
        arr = backing[region.offset - start:region.offset - start + region.nbytes].view(storage(dtype))
        return arr if shape is None else arr.reshape(shape)
