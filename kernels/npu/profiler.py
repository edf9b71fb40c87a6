"""Per-kernel costs on the simulated NPU and the collectors that gather them (``framework.npu.profile``).

A kernel returns its result through ``emit(op, out, cost)``; while a collector is active the call's
``Record`` is appended to it. ``model`` says where the numbers came from: ``"sim"`` (the simulator ran
the program), ``"analytic"`` (numpy computed the values, the vector-unit time is a formula),
``"host"`` (an explicit host fallback ran the CPU kernel).
"""
from typing import NamedTuple

_collectors = []


class Cost:
    """Cycles (launch included), cube work and GM bytes of one or more kernel launches run back to back."""

    __slots__ = ("cycles", "body_cycles", "cube_ideal", "gm_bytes", "model")

    def __init__(self, cycles=0.0, body_cycles=0.0, cube_ideal=0.0, gm_bytes=0.0, model="sim"):
        self.cycles, self.body_cycles, self.cube_ideal = cycles, body_cycles, cube_ideal
        self.gm_bytes, self.model = gm_bytes, model

    @classmethod
    def of(cls, report):
        """The cost of one simulator ``Report``; ``cube_ideal`` is per core so utilisations add up."""
        gm = sum(v for k, v in report.bytes.items() if k.startswith("GM->") or k.endswith("->GM"))
        return cls(report.total_cycles, report.cycles, report.cube_ideal_cycles / report.cores, gm)

    def __add__(self, other):
        model = self.model if self.model == other.model else "sim+analytic"
        return Cost(self.cycles + other.cycles, self.body_cycles + other.body_cycles,
                    self.cube_ideal + other.cube_ideal, self.gm_bytes + other.gm_bytes, model)

    @property
    def cube_utilisation(self):
        """Useful cube MACs over peak for the kernel bodies (launch excluded)."""
        return self.cube_ideal / self.body_cycles if self.body_cycles else 0.0


class Record(NamedTuple):
    """One kernel call: op (kernel name), cycles, cube utilisation, GM bytes, and how it ran."""

    op: str
    cycles: float
    cube_utilisation: float
    bytes: float
    model: str


def emit(op, out, cost):
    """Record ``cost`` for kernel ``op`` in every active collector and return ``out``."""
    if _collectors:
        rec = Record(op, cost.cycles, cost.cube_utilisation, cost.gm_bytes, cost.model)
        for c in _collectors:
            c.append(rec)
    return out


def start(records):
    """Start appending records to the list ``records``."""
    _collectors.append(records)


def stop(records):
    """Stop appending to ``records``."""
    _collectors.remove(records)
