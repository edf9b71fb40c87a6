"""The machine's rules: presets, capacities, pipes, flags, deadlocks, hazards, §5.7 invariants."""
import numpy as np
import pytest

from npu_sim import isa
from npu_sim.config import MB, ascend910, ascend910b, edge, preset
from npu_sim.kernels.gemm import gemm_programs
from npu_sim.memory import AlignmentError, CapacityError, Region, RangeError
from npu_sim.pipes import DeadlockError
from npu_sim.program import Machine


def test_presets_and_overrides():
    assert ascend910().num_cores == 32 and ascend910().clock_hz == 1e9
    assert ascend910b().num_cores == 24 and ascend910b().l2_bytes == 192 * MB
    assert edge().num_cores == 2
    assert preset("ascend910", num_cores=8).num_cores == 8
    assert ascend910().replace(bw_gm_l1=64).bw_gm_l1 == 64
    assert ascend910().peak_flops() == pytest.approx(262.1e12, rel=1e-3)
    assert ascend910b().peak_flops() == pytest.approx(353.9e12, rel=1e-3)
    assert ascend910().peak_flops("int8") == 2 * ascend910().peak_flops()
    with pytest.raises(TypeError):
        ascend910().replace(no_such_field=1)
    with pytest.raises(ValueError):
        preset("tpu")


def test_allocation_beyond_capacity_is_an_error():
    p = Machine(ascend910()).program()
    p.alloc("L0A", 60 * 1024)
    with pytest.raises(CapacityError, match="L0A"):
        p.alloc("L0A", 8 * 1024)
    p.alloc("L1", 1 * MB)
    with pytest.raises(CapacityError):
        p.alloc("L1", 32)
    # the 910B's L0C is half the 910's: a 128x256 fp32 tile pair does not fit
    q = Machine(ascend910b()).program()
    q.alloc_tile("L0C", 128, 256, "fp32")
    with pytest.raises(CapacityError):
        q.alloc_tile("L0C", 128, 256, "fp32")


def test_operands_outside_or_misaligned_are_errors():
    m = Machine(ascend910())
    p = m.program()
    a = p.alloc_tile("L0A", 16, 16, "fp16")
    b = p.alloc_tile("L0B", 16, 16, "fp16")
    c = p.alloc_tile("L0C", 16, 16, "fp32")
    bad = a._replace(region=Region("L0A", 100, 512))
    with pytest.raises(AlignmentError):
        p.mmad(c, bad, b, 16, 16, 16)
    with pytest.raises(RangeError):
        p.mmad(c, a._replace(region=Region("L0A", 65536, 512)), b, 16, 16, 16)
    with pytest.raises(ValueError, match="L0B"):
        p.mmad(c, a, a, 16, 16, 16)
    with pytest.raises(ValueError, match="bf16"):
        p.mmad(c, a._replace(dtype="bf16"), b._replace(dtype="bf16"), 16, 16, 16)   # no bf16 on 910
    with pytest.raises(ValueError, match="event id"):
        p.set_flag("MTE2", "MTE1", 4)
    with pytest.raises(ValueError, match="L0C->GM"):
        p.fixpipe(m.empty(16, 16, "fp16"), c)                                    # no FixPipe on 910


def test_pipes_run_concurrently_and_in_order():
    m = Machine(ascend910(), numerics=False)
    p = m.program()
    t = m.empty(1, 32768, "fp16")
    l1 = p.alloc_tile("L1", 1, 32768, "fp16", "ND")
    ub = [p.alloc_tile("UB", 1, 16384, "fp16") for _ in range(3)]
    p.copy_gm_to_cbuf(l1, t)                 # MTE2
    p.vector("vadd", ub[0], ub[1], ub[2])    # V: independent, overlaps the DMA
    p.vector("vadd", ub[1], ub[0], ub[2])    # in order after the first
    r = m.run(p, trace=True, check_hazards=False)
    spans = {(pipe, i): (s, e) for i, (_, pipe, n, s, e) in enumerate(r.trace)}
    (dma,) = [v for (pipe, _), v in spans.items() if pipe == "MTE2"]
    v = sorted(v for (pipe, _), v in spans.items() if pipe == "V")
    assert v[0][0] < dma[1]                  # concurrent
    assert v[1][0] >= v[0][1]                # in order within a pipe
    assert r.cycles == pytest.approx(dma[1])


def test_wait_flag_orders_pipes_and_deadlock_is_reported():
    m = Machine(ascend910(), numerics=False)
    p = m.program()
    t = m.empty(1, 4096, "fp16")
    l1 = p.alloc_tile("L1", 1, 4096, "fp16", "ND")
    ub = p.alloc_tile("UB", 1, 4096, "fp16")
    p.copy_gm_to_cbuf(l1, t)
    p.set_flag("MTE2", "V", 1)
    p.wait_flag("MTE2", "V", 1)
    p.vector("vabs", ub, ub)
    r = m.run(p, trace=True)
    dma_end = next(e for _, pipe, n, s, e in r.trace if n == "copy_gm_to_cbuf")
    v_start = next(s for _, pipe, n, s, e in r.trace if n == "vabs")
    assert v_start >= dma_end + 1
    assert r.stalls[("V", "wait:MTE2")] > 0
    q = m.program()
    q.wait_flag("MTE1", "M", 2)
    with pytest.raises(DeadlockError, match="M blocked at wait_flag"):
        m.run(q)


def test_pipe_barrier_all_drains_everything():
    m = Machine(ascend910(), numerics=False)
    p = m.program()
    ub = p.alloc_tile("UB", 1, 4096, "fp16")
    t = m.empty(1, 4096, "fp16")
    p.copy_ubuf_to_gm(t, ub)
    p.pipe_barrier("ALL")
    p.vector("vabs", ub, ub)
    r = m.run(p, trace=True)
    end = next(e for _, pipe, n, s, e in r.trace if n == "copy_ubuf_to_gm")
    assert next(s for _, pipe, n, s, e in r.trace if n == "vabs") >= end
    assert not r.hazards


def test_report_contents():
    m = Machine(ascend910(), numerics=False)
    a, b, c = m.empty(256, 512, "fp16"), m.empty(512, 256, "fp16"), m.empty(256, 256, "fp16")
    r = m.run(gemm_programs(m, a, b, c, cores=1))
    assert r.macs == 256 * 512 * 256
    assert r.bytes["GM->L1"] == 256 * 512 * 2 + 2 * (512 * 256 * 2)   # B is re-read per row of tiles
    assert r.bytes["UB->GM"] == 256 * 256 * 2
    assert set(r.busy) >= {"MTE2", "MTE1", "M", "V", "MTE3"}
    assert any(cause == "wait_operand" for pipe, cause in r.stalls if pipe == "M")
    assert 0 < r.cube_utilisation <= r.cube_utilisation_padded <= 1
    assert "cube utilisation" in r.format()


# ---- §5.7 invariants ---------------------------------------------------------------------------

def _small_gemm(machine, db=True, drop=None):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((96, 256)).astype(np.float16)
    B = rng.standard_normal((256, 96)).astype(np.float16)
    a, b, c = machine.tensor(A, "fp16"), machine.tensor(B, "fp16"), machine.empty(96, 96, "fp16")
    progs = gemm_programs(machine, a, b, c, bm=32, bn=48, k1=128, bk=32, double_buffer=db, cores=2)
    for p in progs:
        p.instrs = [i for i in p.instrs if not (drop and drop(i))]
    return progs, A, B, c


@pytest.mark.parametrize("db", [True, False])
def test_limits_never_exceeded(db):
    for cfg in (ascend910(), ascend910b()):
        m = Machine(cfg, numerics=False)
        progs, *_ = _small_gemm(m, db)
        r = m.run(progs, trace=True)
        for pipe in isa.PIPES:
            assert r.pipe_busy_fraction(pipe) <= 1 + 1e-9
        assert r.cube_utilisation <= 1
        seconds = r.cycles / cfg.clock_hz
        assert r.bytes["GM->L1"] / seconds <= cfg.bw_gm_l1 * cfg.clock_hz * r.cores * (1 + 1e-9)
        # no pipe of any core runs two instructions at once
        by_pipe = {}
        for core, pipe, _, s, e in r.trace:
            by_pipe.setdefault((core, pipe), []).append((s, e))
        for spans in by_pipe.values():
            spans.sort()
            assert all(s2 >= e1 - 1e-9 for (_, e1), (s2, _) in zip(spans, spans[1:]))


@pytest.mark.parametrize("db", [True, False])
def test_removing_every_wait_never_slows_down(db):
    m = Machine(ascend910(), numerics=False)
    with_waits = m.run(_small_gemm(m, db)[0], check_hazards=True)
    m2 = Machine(ascend910(), numerics=False)
    without = m2.run(_small_gemm(m2, db, drop=lambda i: i.kind == isa.WAIT)[0], check_hazards=True)
    assert without.cycles <= with_waits.cycles
    assert not with_waits.hazards and without.hazards


def test_removing_a_needed_wait_is_flagged_as_hazard():
    m = Machine(ascend910())
    drop = lambda i: i.kind == isa.WAIT and i.flag[:2] == ("MTE1", "M")   # noqa: E731
    progs, A, B, c = _small_gemm(m, drop=drop)
    r = m.run(progs)
    assert any("RAW" in h and "L0" in h for h in r.hazards)


def test_doubling_the_clock():
    def run(cfg, M, K, N, cores):
        m = Machine(cfg, numerics=False)
        a, b, c = m.empty(M, K, "fp16"), m.empty(K, N, "fp16"), m.empty(M, N, "fp16")
        return m.run(gemm_programs(m, a, b, c, cores=cores, coarse=True), launch=False).seconds
    base, fast = ascend910(), ascend910(clock_hz=2e9)
    # compute-bound: one core, large tiles
    assert run(fast, 512, 2048, 512, 1) / run(base, 512, 2048, 512, 1) == pytest.approx(0.5, rel=0.05)
    # HBM-bound: GEMV-like on all cores
    ratio = run(fast, 16, 4096, 8192, 32) / run(base, 16, 4096, 8192, 32)
    assert ratio == pytest.approx(1.0, rel=0.1)


def test_package_docstring_example_and_independence():
    import doctest
    import subprocess
    import sys

    import npu_sim
    assert doctest.testmod(npu_sim).failed == 0
    code = "import sys, npu_sim, npu_sim.__main__, npu_sim.network; " \
           "print([m for m in sys.modules if m.split('.')[0] in ('framework', 'kernels', 'zoo')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
