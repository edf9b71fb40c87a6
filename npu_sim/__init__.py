"""Cycle-approximate DaVinci-style AI-core simulator (standalone: imports nothing else of ours).

A chip is a ``MachineConfig`` (presets ``ascend910``, ``ascend910b``, ``edge``) plus shared GM. Per core,
a ``Program`` is an instruction stream — DMA between memory levels with fractal layout conversion, cube
``mmad`` on fractals, vector ops, ``set_flag``/``wait_flag`` — that the event-driven scheduler runs on
in-order pipes (MTE2, MTE1, M, V, MTE3, FIX, scalar) synchronised only by those flags. A run returns a
``Report``: cycles, per-pipe busy time, stalls by cause, bytes per path, cube utilisation, hazards.

    >>> import numpy as np
    >>> from npu_sim import Machine, ascend910
    >>> from npu_sim.kernels.gemm import gemm_programs
    >>> m = Machine(ascend910())
    >>> a = m.tensor(np.ones((64, 64)), "fp16"); b = m.tensor(np.ones((64, 64)), "fp16")
    >>> c = m.empty(64, 64, "fp16")
    >>> report = m.run(gemm_programs(m, a, b, c, bm=64, bn=64, k1=64, bk=64, cores=1))
    >>> float(m.read(c)[0, 0]), report.hazards
    (64.0, [])

See docs/npu_sim.md for the model, its validation against REFERENCE.md §5, and its known misses.
"""
from .config import MachineConfig, ascend910, ascend910b, edge, preset
from .memory import AlignmentError, CapacityError, RangeError
from .pipes import DeadlockError
from .program import GmTensor, Machine, Program, Tile
from .report import Report

__all__ = ["MachineConfig", "ascend910", "ascend910b", "edge", "preset", "Machine", "Program", "Tile",
           "GmTensor", "Report", "CapacityError", "AlignmentError", "RangeError", "DeadlockError"]
