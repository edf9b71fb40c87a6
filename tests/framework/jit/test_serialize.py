"""Save/load of compiled graphs: a round trip in a fresh process, signature checks, corrupted files."""
import os
import subprocess
import sys

import numpy as np
import pytest

import framework
import framework.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def saved(tmp_path):
    framework.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3)).eval()
    x = framework.randn(2, 4)
    with framework.no_grad():
        traced = framework.jit.trace(model, (x,))
        expected = model(x).numpy()
    path = tmp_path / "model.graph"
    traced.save(path)
    return path, x, expected


def test_round_trip_in_a_new_process(saved, tmp_path):
    path, x, expected = saved
    np.save(tmp_path / "x.npy", x.numpy())
    script = (f"import numpy as np, framework\n"
              f"g = framework.jit.load({str(path)!r})\n"
              f"out = g(framework.tensor(np.load({str(tmp_path / 'x.npy')!r})))\n"
              f"np.save({str(tmp_path / 'out.npy')!r}, out.numpy())\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=str(tmp_path), timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-6)


def test_mismatched_inputs_name_both_signatures(saved):
    path, _, _ = saved
    graph = framework.jit.load(path)
    with pytest.raises(RuntimeError, match=r"expects arguments \(f32\[2, 4\]\), got \(f32\[5, 4\]\)"):
        graph(framework.randn(5, 4))
    with pytest.raises(RuntimeError, match=r"got \(f64\[2, 4\]\)"):
        graph(framework.randn(2, 4, dtype=framework.float64))


def test_truncated_and_corrupted_files_are_refused(saved, tmp_path):
    path, _, _ = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.graph"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="corrupted or truncated"):
        framework.jit.load(truncated)
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    bad = tmp_path / "flipped.graph"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(RuntimeError, match="corrupted"):
        framework.jit.load(bad)
    other = tmp_path / "other.graph"
    other.write_bytes(b"not a zip at all")
    with pytest.raises(RuntimeError, match="not a valid compiled graph file"):
        framework.jit.load(other)


