"""The OpInfo conformance harness with every tensor on device "cuda" (candidate ``framework_on_cuda``).

Without a GPU the device is the numpy stand-in (the cuda kernel table built for numpy, random kernels run by
the emulator); on a GPU the same command runs on it. The core set must pass as it does for ``framework`` on
CPU, forward and backward, except ``to``'s backward samples that move to "cpu": the harness multiplies that
CPU output by a cotangent the candidate made on cuda, which PyTorch refuses just the same.
"""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("scipy.special")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
RUN = os.path.join(ROOT, "..", "shared", "conformance", "run.py")


def test_core_conformance_on_cuda(tmp_path):
    if not os.path.exists(RUN):
        pytest.skip("the conformance harness (../shared/conformance) is not here")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.dirname(__file__)]))
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, RUN, "--core", "--module", "framework_on_cuda", "--json", str(report)],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    ops = json.loads(report.read_text())["ops"]
    assert len(ops) >= 286
    assert [op["name"] for op in ops if op["status"] not in ("pass", "fail-backward")] == []
    assert [op["name"] for op in ops if op["status"] == "fail-backward"] == ["to"]
    to = next(op for op in ops if op["name"] == "to")
    assert all("same device" in p["message"] for p in to["problems"] if p["status"] != "skip")
    backward = [op for op in ops if op["backward"]["eligible"]]
    assert len(backward) >= 239
