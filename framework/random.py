"""Random generators: ``torch.Generator``, the default CPU generator and the seeding functions.

Every generator runs PyTorch's CPU engine (MT19937 as in ``CPUGeneratorImpl``), so with the same seed
the framework draws the same numbers as PyTorch on CPU. A generator made for another device type draws
the CPU stream too (the results are then moved to that device).
"""
import contextlib
import os

import numpy as np

from kernels.cpu.mt19937 import DEFAULT_SEED, MT19937, STATE_NBYTES

from ._device import to_device

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state", "fork_rng"]

_U64 = 0xFFFFFFFFFFFFFFFF


def _nondeterministic_seed():
    return int.from_bytes(os.urandom(8), "little")


def _seed_value(seed):
    """PyTorch's seed argument handling: int(seed), negatives wrap to 64 bits, [-2^63, 2^64) only."""
    if isinstance(seed, str):
        seed = int(seed)
    elif not isinstance(seed, int):
        if hasattr(seed, "item") and not isinstance(seed, (float, np.floating)):
            seed = seed.item()
        seed = int(seed)
    if seed < -(1 << 63) or seed > _U64:
        raise ValueError("Overflow when unpacking long long")
    return seed & _U64


class Generator:
    """A pseudo-random number generator (``torch.Generator``) with PyTorch's CPU stream."""

    def __init__(self, device="cpu"):
        self._device = to_device(device)
        self._engine = MT19937(DEFAULT_SEED)

    @property
    def device(self):
        return self._device

    def manual_seed(self, seed):
        """Seed the generator; returns the generator."""
        self._engine.manual_seed(_seed_value(seed))
        return self

    def seed(self):
        """Seed from a non-deterministic source and return that seed."""
        s = _nondeterministic_seed()
        self._engine.manual_seed(s)
        return s

    def initial_seed(self):
        """The seed the generator was last seeded with."""
        return self._engine.seed

    def get_state(self):
        """The generator state as a uint8 tensor (PyTorch's 5056-byte CPU layout)."""
        from ._tensor import Tensor
        return Tensor._wrap(self._engine.get_state())

    def set_state(self, new_state):
        """Restore a state from :meth:`get_state` (a uint8 tensor, also one saved by PyTorch)."""
        from . import _dtype
        from ._tensor import Tensor
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype is not _dtype.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        data = np.asarray(new_state._data).reshape(-1)
        if data.size != STATE_NBYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_NBYTES} but found the input RNG "
                               f"state size to be {data.size}")
        try:
            self._engine.set_state(data)
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None
        return self

    def clone_state(self):
        out = Generator(self._device)
        out._engine = self._engine.clone()
        return out

    def __reduce__(self):
        return (_rebuild_generator, (str(self._device), self._engine.get_state().tobytes()))

    def __repr__(self):
        return f"<framework.Generator object (device='{self._device}')>"


def _rebuild_generator(device, state):
    g = Generator(device)
    g._engine.set_state(np.frombuffer(state, dtype=np.uint8))
    return g


def _engine_of(generator):
    """The MT19937 engine a random op uses: ``generator``'s, or the default one's."""
    if generator is None:
        return default_generator._engine
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a Generator, but got {type(generator).__name__}")
    return generator._engine


default_generator = Generator()
default_generator._engine.manual_seed(_nondeterministic_seed())


def manual_seed(seed):
    """Seed the default generator (``torch.manual_seed``); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generator non-deterministically and return the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default generator's state from :func:`get_rng_state` (or ``torch.get_rng_state()``)."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Save the default generator's state and restore it on exit (``torch.random.fork_rng``)."""
    if not enabled:
        yield
        return
    saved = default_generator._engine.clone()
    try:
        yield
    finally:
        default_generator._engine.copy_from(saved)
