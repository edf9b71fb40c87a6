"""The event-driven scheduler: per core, a scalar unit issuing into in-order pipe queues (REFERENCE §4.3.1).

Each pipe starts its head instruction at max(pipe free, issue time, awaited flag ready). Pipes that
only depend on fixed costs and flags run ahead on their own clocks (flag queues are per ordered pipe
pair, so the k-th wait always meets the k-th set whatever order we process them in). Transfers through
the shared L2/HBM are different: their speed depends on what else is streaming at the same moment, so
they start and finish only from the global event queue, in time order.
"""
import heapq
from collections import defaultdict, deque

from . import isa
from .hazards import HazardChecker
from .memory import LocalMemory
from .report import CUBE_STALL_CAUSE, Report
from .shared import Flow, L2Cache, SharedMemory

NPIPES = len(isa.PIPES)
M_PIPE = isa.PIPE_INDEX["M"]


class DeadlockError(RuntimeError):
    """The program can never finish: a pipe waits on a flag no one will set (real hardware hangs)."""


class PipeState:
    """One pipe of one core: its queue, clock and counters."""

    __slots__ = ("core", "idx", "name", "fifo", "issue", "free_at", "last_done", "running", "wake_at",
                 "vc", "primed", "queued", "first", "last")

    def __init__(self, core, idx):
        self.core, self.idx, self.name = core, idx, isa.PIPES[idx]
        self.fifo, self.issue = deque(), deque()
        self.free_at = 0.0        # end of the occupancy of the last started instruction
        self.last_done = 0.0      # latest completion (results usable) of started instructions
        self.running = False      # a GM transfer occupies the pipe until its flow ends
        self.wake_at = None
        self.vc = [0] * NPIPES
        self.primed = False       # cube only: an mmad ran and the pipe has not idled since
        self.queued = False
        self.first, self.last = None, 0.0   # start of the first, end of the last instruction (activity span)


class CoreState:
    """One core: its program counter, scalar clock, pipes, flags and local memory."""

    def __init__(self, cid, program, numerics):
        self.cid, self.program = cid, program.instrs
        self.pc = 0
        self.scalar_t = 0.0
        self.scalar_wait = None   # a pipe whose full queue blocks the scalar, or "ALL"
        self.pipes = [PipeState(self, i) for i in range(NPIPES)]
        self.flags = defaultdict(deque)   # (src, dst, id) -> deque of (ready time, vector clock)
        self.waiters = {}
        self.local = LocalMemory(program.config) if numerics else None
        self.queued = False


class Scheduler:
    """Runs one program per core to completion and fills a ``Report``."""

    def __init__(self, machine, programs, check_hazards=False, trace=False, l2=None):
        self.machine, self.config = machine, machine.config
        self.numerics = machine.numerics
        self.cores = [CoreState(i, p, self.numerics) for i, p in enumerate(programs)]
        self.depth = self.config.pipe_queue_depth
        self.heap, self.seq = [], 0
        self.now = 0.0
        self.work = deque()
        self.shared = SharedMemory(self.config)
        self.l2 = l2 if l2 is not None else L2Cache(self.config)
        self.hazards = HazardChecker() if check_hazards else None
        self.trace = trace
        self.flow_version = -1
        r = self.report = Report(self.config.name, self.config.clock_hz, len(programs))
        self._busy, self._stalls, self._bytes = r.busy, r.stalls, r.bytes

    # ---- event plumbing ------------------------------------------------------------------------
    def _at(self, t, fn, arg):
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, fn, arg))

    def _queue(self, agent):
        if not agent.queued:
            agent.queued = True
            self.work.append(agent)

    def run(self, launch_overhead=True):
        """Simulate until every core is done; raises DeadlockError if some pipe can never proceed."""
        l2_hit0, l2_miss0 = self.l2.hit_bytes, self.l2.miss_bytes
        for core in self.cores:
            self._queue(core)
        while True:
            while self.work:
                agent = self.work.popleft()
                agent.queued = False
                if isinstance(agent, CoreState):
                    self._step_scalar(agent)
                else:
                    self._step_pipe(agent)
            if not self.heap:
                break
            t, _, fn, arg = heapq.heappop(self.heap)
            self.now = max(self.now, t)
            fn(arg)
        self._check_done()
        r = self.report
        r.cycles = max([c.scalar_t for c in self.cores] +
                       [max(p.free_at, p.last_done) for c in self.cores for p in c.pipes] + [0.0])
        if launch_overhead:
            r.launch_cycles = self.config.kernel_launch_overhead_s * self.config.clock_hz
        for p in (p for c in self.cores for p in c.pipes if p.first is not None):
            lo, hi = r.spans.get(p.name, (p.first, p.last))
            r.spans[p.name] = (min(lo, p.first), max(hi, p.last))
        r.l2_hit_bytes = self.l2.hit_bytes - l2_hit0
        r.l2_miss_bytes = self.l2.miss_bytes - l2_miss0
        if self.hazards:
            r.hazards = self.hazards.hazards
        return r

    def _check_done(self):
        stuck = []
        for c in self.cores:
            for p in c.pipes:
                if p.fifo:
                    head = p.fifo[0]
                    what = f"wait_flag{head.flag}" if head.kind == isa.WAIT else head.name
                    stuck.append(f"core {c.cid} pipe {p.name} blocked at {what}")
            if c.pc < len(c.program) and not stuck:
                stuck.append(f"core {c.cid} scalar blocked at instruction {c.pc} ({c.program[c.pc].name})")
        if stuck:
            raise DeadlockError("deadlock: " + "; ".join(stuck))

    # ---- the scalar unit -----------------------------------------------------------------------
    def _step_scalar(self, core):
        prog, pipes, depth = core.program, core.pipes, self.depth
        busy = self._busy
        while core.pc < len(prog):
            ins = prog[core.pc]
            if ins.pipe == "S":
                if ins.kind == isa.BARRIER_ALL:
                    if any(p.fifo or p.running for p in pipes):
                        core.scalar_wait = "ALL"
                        return
                    core.scalar_wait = None
                    t = max([core.scalar_t] + [max(p.free_at, p.last_done) for p in pipes])
                    joined = [max(col) for col in zip(*(p.vc for p in pipes))]
                    for p in pipes:
                        p.vc = list(joined)
                        p.free_at = max(p.free_at, t)
                    core.scalar_t = t
                else:
                    busy["S"] += ins.cycles
                    core.scalar_t += ins.cycles
                core.pc += 1
                continue
            p = pipes[isa.PIPE_INDEX[ins.pipe]]
            if len(p.fifo) >= depth:
                core.scalar_wait = p
                return
            core.scalar_t += 1                 # one issue slot per instruction
            p.fifo.append(ins)
            p.issue.append(core.scalar_t)
            if len(p.fifo) == 1 and not p.running:
                self._queue(p)
            core.pc += 1
        core.scalar_wait = None

    # ---- the pipes -----------------------------------------------------------------------------
    def _wake(self, p):
        p.wake_at = None
        self._queue(p)

    def _step_pipe(self, p):
        core, cfg = p.core, self.config
        fifo, issue = p.fifo, p.issue
        stalls = self._stalls
        while fifo and not p.running:
            ins = fifo[0]
            kind = ins.kind
            ready_from = max(p.free_at, issue[0])
            t = ready_from
            flag_entry = None
            if kind == isa.WAIT:
                q = core.flags.get(ins.flag)
                if not q:
                    core.waiters[ins.flag] = p
                    return
                flag_entry = q[0]
                t = max(t, flag_entry[0])
            elif kind == isa.BARRIER:
                t = max(t, p.last_done)
            elif kind == isa.GM:
                if t > self.now:
                    if p.wake_at != t:
                        p.wake_at = t
                        self._at(t, self._wake, p)
                    return
                t = self.now
            # ---- the instruction starts at t ----
            fifo.popleft()
            issue.popleft()
            if core.scalar_wait is p:
                core.scalar_wait = None
                core.scalar_t = max(core.scalar_t, t)
                self._queue(core)
            # stall attribution: the gap before the start, by cause
            if p.free_at < ready_from:      # nothing issued yet: the scalar had not got this far
                stalls[(p.name, "dispatch")] += ready_from - p.free_at
            if t > ready_from:
                if kind == isa.WAIT:
                    src = ins.flag[0]
                    cause = CUBE_STALL_CAUSE.get(src, "wait:" + src) if p.idx == M_PIPE else "wait:" + src
                    stalls[(p.name, cause)] += t - ready_from
                else:
                    stalls[(p.name, "drain")] += t - ready_from
            if p.idx == M_PIPE and t > p.free_at:
                p.primed = False
            p.vc[p.idx] += 1
            if flag_entry is not None:
                core.flags[ins.flag].popleft()
                vc = p.vc
                for i, v in enumerate(flag_entry[1]):
                    if v > vc[i]:
                        vc[i] = v
            if self.hazards is not None and (ins.reads or ins.writes):
                self.hazards.access(core.cid, p.idx, p.vc, ins)
            if ins.run is not None:
                ins.run(core.local, self.machine.gm)
            self.report.instructions += 1
            if kind == isa.GM:
                self._start_transfer(p, ins, t)
                return
            occ = ins.cycles
            done = t + occ + ins.latency
            if kind == isa.MMAD:
                head = cfg.mmad_issue_overhead if p.primed else cfg.mmad_head_idle
                occ = ins.cycles + head
                # the idle head overlaps the result pipeline: completion = start + fractals + 2 + 21
                done = t + max(occ, ins.cycles + cfg.mmad_issue_overhead + ins.latency)
                p.primed = True
            if ins.fractals:
                self._cube_stats(ins)
            if ins.path:
                self._bytes[ins.path] += ins.nbytes
            if ins.extra_busy:
                for pipe_name, cycles in ins.extra_busy.items():
                    if pipe_name.startswith("bytes:"):
                        self._bytes[pipe_name[6:]] += cycles
                    else:
                        self._busy[pipe_name] += cycles
            self._busy[p.name] += occ
            if kind == isa.SET:
                ready = max(t + occ, p.last_done)
                core.flags[ins.flag].append((ready, tuple(p.vc)))
                waiter = core.waiters.pop(ins.flag, None)
                if waiter is not None:
                    self._queue(waiter)
            p.free_at = t + occ
            if done > p.last_done:
                p.last_done = done
            if p.first is None:
                p.first = t
            p.last = t + occ
            if self.trace:
                self.report.trace.append((core.cid, p.name, ins.name, t, t + occ))
        if not fifo and core.scalar_wait == "ALL" and not any(q.fifo or q.running for q in core.pipes):
            self._queue(core)

    def _cube_stats(self, ins):
        r = self.report
        r.macs += ins.macs
        r.macs_charged += ins.macs_charged
        r.cube_fractal_cycles += ins.fractals
        r.cube_ideal_cycles += ins.fractals * ins.macs / ins.macs_charged if ins.macs_charged else 0

    # ---- transfers through the shared memory system ------------------------------------------
    def _start_transfer(self, p, ins, t):
        p.running = True
        if p.first is None:
            p.first = t
        p.free_at = t
        hit = self.l2.access(ins.l2_key, ins.gm_bytes, ins.gm_write)
        self._bytes[ins.path] += ins.nbytes
        flow = Flow(hit, ins.gm_bytes - hit, ins.gm_write, ins.port_bw, (p, ins), t)
        self._stalls[(p.name, "gm_latency")] += ins.latency
        self._at(t + ins.latency, self._flow_start, flow)

    def _flow_start(self, flow):
        self.shared.add(flow, self.now)
        self._flow_event(None)

    def _flow_event(self, version):
        if version is not None and version != self.flow_version:
            return                     # superseded by a later re-division of bandwidth
        for f in self.shared.pop_finished(self.now):
            self._finish(f)
        nxt = self.shared.next_event()
        if nxt is not None:
            self.flow_version = self.shared.version
            self._at(nxt, self._flow_event, self.flow_version)

    def _finish(self, flow):
        p, ins = flow.done
        end = self.now
        self._busy[p.name] += end - flow.start
        self._stalls[(p.name, "gm_transfer")] += end - flow.start - ins.latency
        p.running = False
        p.free_at = end
        p.last = end
        if end > p.last_done:
            p.last_done = end
        if self.trace:
            self.report.trace.append((p.core.cid, p.name, ins.name, flow.start, end))
        self._queue(p)
