"""Random generators: ``torch.Generator``, the default CPU generator and the seeding functions.

A CPU generator runs PyTorch's CPU engine (MT19937 as in ``CPUGeneratorImpl``), so with the same seed
the framework draws the same numbers as PyTorch on CPU. A CUDA generator is a Philox counter, ``(seed,
offset)``, whose draws run on the GPU (``kernels/cuda/rng.py``); its streams are not PyTorch's CUDA streams.
``manual_seed`` and ``seed`` seed every device, as in PyTorch.
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


class Philox:
    """A CUDA generator's engine: the Philox key ``seed`` and the draw counter ``offset`` (16 state bytes)."""

    state_nbytes = 16

    def __init__(self, seed):
        self.seed, self.offset = seed, 0

    def manual_seed(self, seed):
        self.seed, self.offset = seed, 0

    def advance(self):
        """``(seed, offset)`` for the next draw; each draw gets its own offset (see ``kernels/cuda/rng.py``)."""
        offset = self.offset
        self.offset = (offset + 1) & _U64
        return self.seed, offset

    def get_state(self):
        return np.frombuffer(np.array([self.seed, self.offset], dtype="<u8").tobytes(), dtype=np.uint8).copy()

    def set_state(self, data):
        self.seed, self.offset = (int(v) for v in np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype="<u8"))

    def clone(self):
        out = Philox(self.seed)
        out.offset = self.offset
        return out

    def copy_from(self, other):
        self.seed, self.offset = other.seed, other.offset


class Generator:
    """A pseudo-random number generator (``torch.Generator``): PyTorch's CPU stream, or Philox on CUDA."""

    def __init__(self, device="cpu"):
        self._device = to_device(device)
        self._engine = Philox(DEFAULT_SEED) if self._device.type == "cuda" else MT19937(DEFAULT_SEED)

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
        """The generator state as a uint8 tensor (PyTorch's 5056-byte CPU layout; seed and offset on CUDA)."""
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
        expected = getattr(self._engine, "state_nbytes", STATE_NBYTES)
        if data.size != expected:
            kind = "CUDA" if self._device.type == "cuda" else "CPU"
            raise RuntimeError(f"Expected a {kind}GeneratorImplState of size {expected} but found the input RNG "
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
    if generator.device.type == "cuda":
        raise RuntimeError("Expected a 'cpu' device type for generator but found 'cuda'")
    return generator._engine


default_generator = Generator()
default_generator._engine.manual_seed(_nondeterministic_seed())


def manual_seed(seed):
    """Seed the default generator and every CUDA device's (``torch.manual_seed``); returns the CPU one."""
    from . import cuda
    default_generator.manual_seed(seed)
    cuda.manual_seed_all(_seed_value(seed))
    return default_generator


def seed():
    """Seed the default generator non-deterministically (every CUDA device with the same seed); return it."""
    from . import cuda
    s = default_generator.seed()
    cuda.manual_seed_all(s)
    return s


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
    """Save the CPU generator's state and the CUDA ones' and restore them on exit (``torch.random.fork_rng``).

    ``devices=None`` forks every CUDA generator in use so far (PyTorch: every device, once CUDA is initialised).
    """
    if not enabled:
        yield
        return
    from . import cuda
    if device_type != "cuda":
        raise NotImplementedError(f"fork_rng: device_type={device_type!r} is not supported (only 'cuda')")
    indices = list(cuda._generators) if devices is None else [cuda._index(d) for d in devices]
    engines = [default_generator._engine] + [cuda._generator(i)._engine for i in indices]
    saved = [engine.clone() for engine in engines]
    try:
        yield
    finally:
        for engine, state in zip(engines, saved):
            engine.copy_from(state)
