"""Instructions: one record per operation, with its pipe, costs, operands and numeric effect.

Costs that do not depend on run-time state (DMA bytes, fractal counts, vector repeats) are worked out
once when the program is built (see ``program.py``); the scheduler only adds what depends on timing
(the cube's idle head, shared GM bandwidth, flag waits).
"""

PIPES = ("S", "MTE2", "MTE1", "M", "V", "MTE3", "FIX")
PIPE_INDEX = {p: i for i, p in enumerate(PIPES)}

# instruction kinds the scheduler distinguishes
LOCAL = "local"      # fixed occupancy (local DMA, vector op, scalar op)
GM = "gm"            # transfer to/from GM: latency + bytes through the shared memory system
MMAD = "mmad"        # cube: occupancy depends on whether the cube was idle
SET = "set"          # set_flag(src -> dst, id)
WAIT = "wait"        # wait_flag(src -> dst, id)
BARRIER = "barrier"  # pipe_barrier(pipe): wait for the pipe's earlier instructions to complete
BARRIER_ALL = "barrier_all"  # pipe_barrier(PIPE_ALL): the scalar waits for every pipe to drain


class Instr:
    """One instruction. ``cycles`` is pipe occupancy, ``latency`` extra time until its result is usable."""

    __slots__ = ("name", "pipe", "kind", "cycles", "latency", "reads", "writes", "run",
                 "path", "nbytes", "gm_bytes", "gm_write", "port_bw", "l2_key",
                 "fractals", "macs", "macs_charged", "flag", "extra_busy")

    def __init__(self, name, pipe, kind, cycles=0, latency=0, reads=(), writes=(), run=None,
                 path=None, nbytes=0, gm_bytes=0, gm_write=False, port_bw=0.0, l2_key=None,
                 fractals=0, macs=0, macs_charged=0, flag=None, extra_busy=None):
        if pipe not in PIPE_INDEX:
            raise ValueError(f"unknown pipe {pipe!r}; expected one of {PIPES}")
        self.name, self.pipe, self.kind = name, pipe, kind
        self.cycles, self.latency = cycles, latency
        self.reads, self.writes, self.run = reads, writes, run
        self.path, self.nbytes = path, nbytes
        self.gm_bytes, self.gm_write, self.port_bw, self.l2_key = gm_bytes, gm_write, port_bw, l2_key
        # fractals = cube cycles at full rate (fractal count x cycles per fractal); macs_charged
        # counts the padded work, macs the useful work
        self.fractals, self.macs, self.macs_charged = fractals, macs, macs_charged
        self.flag = flag
        # analytic macro-instructions also account busy time/bytes of pipes they stand for
        self.extra_busy = extra_busy

    def __repr__(self):
        return f"<{self.pipe}:{self.name}>"
