"""Per-kernel costs on the simulated NPU and the collectors that gather them (``framework.npu.profile``).

A kernel returns its result through ``emit(op, out, cost)``; while a collector is active the call's
``Record`` is appended to it. ``model`` says where the numbers came from: ``"sim"`` (the simulator ran
the program), ``"analytic"`` (numpy computed the values, the vector-unit time is a formula),
``"host"`` (an explicit host fallback ran the CPU kernel).
"""
from typing import NamedTuple

_collectors = []


class Cost:
    """Cycles (launch included), cube work, GM bytes and per-pipe busy cycles (mean over cores) of one or more
    kernel launches run back to back; ``launch`` sums their launch cycles and ``segments`` lists (lane, start,
    end) activity from the first launch's start: a "launch" lane for each launch and, per pipe, the span from
    its first instruction's start to its last one's end on any core."""

    __slots__ = ("cycles", "body_cycles", "cube_ideal", "gm_bytes", "model", "busy", "launch", "segments")

    def __init__(self, cycles=0.0, body_cycles=0.0, cube_ideal=0.0, gm_bytes=0.0, model="sim", busy=None,
                 launch=0.0, segments=()):
        self.cycles, self.body_cycles, self.cube_ideal = cycles, body_cycles, cube_ideal
        self.gm_bytes, self.model, self.busy = gm_bytes, model, dict(busy or {})
        self.launch, self.segments = launch, tuple(segments)

    @classmethod
    def of(cls, report):
        """The cost of one simulator ``Report``; ``cube_ideal`` and ``busy`` are per core so utilisations add up."""
        gm = sum(v for k, v in report.bytes.items() if k.startswith("GM->") or k.endswith("->GM"))
        busy = {pipe: c / report.cores for pipe, c in report.busy.items() if c}
        launch = report.launch_cycles
        segments = [("launch", 0.0, launch)] if launch else []
        segments += [(pipe, launch + lo, launch + hi) for pipe, (lo, hi) in report.spans.items() if hi > lo]
        return cls(report.total_cycles, report.cycles, report.cube_ideal_cycles / report.cores, gm, busy=busy,
                   launch=launch, segments=segments)

    def __add__(self, other):
        model = self.model if self.model == other.model else "sim+analytic"
        busy = dict(self.busy)
        for pipe, c in other.busy.items():
            busy[pipe] = busy.get(pipe, 0.0) + c
        later = [(lane, self.cycles + lo, self.cycles + hi) for lane, lo, hi in other.segments]
        return Cost(self.cycles + other.cycles, self.body_cycles + other.body_cycles,
                    self.cube_ideal + other.cube_ideal, self.gm_bytes + other.gm_bytes, model, busy,
                    self.launch + other.launch, self.segments + tuple(later))

    @property
    def cube_utilisation(self):
        """Useful cube MACs over peak for the kernel bodies (launch excluded)."""
        return self.cube_ideal / self.body_cycles if self.body_cycles else 0.0


class Record(NamedTuple):
    """One kernel call: op (kernel name), cycles, cube utilisation, GM bytes, how it ran, busy cycles per pipe,
    launch cycles and activity segments (see ``Cost``)."""

    op: str
    cycles: float
    cube_utilisation: float
    bytes: float
    model: str
    busy: dict
    launch: float = 0.0
    segments: tuple = ()


def emit(op, out, cost):
    """Record ``cost`` for kernel ``op`` in every active collector and return ``out``."""
    if _collectors:
        rec = Record(op, cost.cycles, cost.cube_utilisation, cost.gm_bytes, cost.model, cost.busy, cost.launch,
                     cost.segments)
        for c in _collectors:
            c.append(rec)
    return out


def start(records):
    """Start appending records to the list ``records``."""
    _collectors.append(records)


def stop(records):
    """Stop appending to ``records``."""
    _collectors.remove(records)
