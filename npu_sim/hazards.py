"""Cross-pipe RAW/WAR/WAW detection on buffer ranges, with vector clocks.

Two accesses to overlapping bytes from different pipes, at least one a write, must be ordered by a
chain of set_flag/wait_flag (or a PIPE_ALL barrier). Each pipe carries a vector clock: its own entry
counts its instructions; a wait_flag joins the clock the matching set_flag captured. Access ``a``
(pipe P, number i) happens before ``b`` iff ``b``'s clock has seen P up to i.
"""
from .isa import PIPES

MAX_ENTRIES = 512   # per buffer; the oldest are forgotten (a bound on cost, documented approximation)


class HazardChecker:
    """Shadow memory of recent accesses per (core, level)."""

    def __init__(self):
        self.shadow = {}
        self.hazards = []

    def access(self, core, pipe, vc, ins, limit=50):
        """Check and record the reads and writes of ``ins`` run on ``pipe`` with clock ``vc``."""
        seq = vc[pipe]
        for write, regions in ((False, ins.reads), (True, ins.writes)):
            for r in regions:
                if r.nbytes == 0:
                    continue
                lo, hi = r.offset, r.offset + r.nbytes
                entries = self.shadow.setdefault((core, r.level), [])
                keep = []
                for e in entries:
                    elo, ehi, epipe, eseq, ewrite, ename = e
                    if elo < hi and lo < ehi and epipe != pipe and (ewrite or write) and vc[epipe] < eseq:
                        if len(self.hazards) < limit:
                            kind = "WAW" if write and ewrite else ("RAW" if ewrite else "WAR")
                            self.hazards.append(
                                f"core {core}: {kind} on {r.level}[{max(lo, elo)}:{min(hi, ehi)}) between "
                                f"{PIPES[epipe]} {ename} #{eseq} and {PIPES[pipe]} {ins.name} #{seq}: "
                                f"no set_flag/wait_flag orders them")
                    covered = lo <= elo and ehi <= hi
                    ordered = epipe == pipe or vc[epipe] >= eseq
                    if not (covered and ordered and (write or (not ewrite and epipe == pipe))):
                        keep.append(e)
                keep.append((lo, hi, pipe, seq, write, ins.name))
                if len(keep) > MAX_ENTRIES:
                    keep = keep[-MAX_ENTRIES:]
                self.shadow[(core, r.level)] = keep
