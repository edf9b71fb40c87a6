"""framework.signal.windows and the top-level *_window functions against PyTorch."""
import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")

WINDOWS = [("hamming", {}), ("hann", {}), ("bartlett", {}), ("blackman", {}), ("cosine", {}), ("nuttall", {}),
           ("exponential", {"tau": 2.5}), ("gaussian", {"std": 1.7}), ("kaiser", {"beta": 8.0}),
           ("general_cosine", {"a": [0.5, 0.3, 0.2]}), ("general_hamming", {"alpha": 0.6})]


@pytest.mark.parametrize("name,kwargs", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_windows_match_torch(name, kwargs):
    for m in (0, 1, 2, 5, 8):
        for sym in (True, False):
            for dtype in ("float32", "float64"):
                ours = getattr(framework.signal.windows, name)(m, sym=sym, dtype=getattr(framework, dtype), **kwargs)
                theirs = getattr(torch.signal.windows, name)(m, sym=sym, dtype=getattr(torch, dtype), **kwargs)
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
                assert ours.dtype.name == dtype


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "bartlett_window", "blackman_window",
                                  "kaiser_window"])
def test_top_level_windows(name):
    for n in (0, 1, 6, 7):
        for periodic in (True, False):
            ours = getattr(framework, name)(n, periodic)
            theirs = getattr(torch, name)(n, periodic)
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(RuntimeError, match="non-negative"):
        getattr(framework, name)(-1)


def test_hand_values_and_errors():
    assert framework.signal.windows.hann(3).tolist() == [0.0, 1.0, 0.0]
    assert framework.signal.windows.bartlett(5).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert framework.signal.windows.hann(4, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="non-negative window length"):
        framework.signal.windows.hann(-1)
    with pytest.raises(ValueError, match="float32 or float64"):
        framework.signal.windows.hann(3, dtype=framework.int64)
    with pytest.raises(ValueError, match="Tau must be positive"):
        framework.signal.windows.exponential(3, tau=0)
    with pytest.raises(ValueError, match="Center must be None"):
        framework.signal.windows.exponential(3, center=1.0)
    with pytest.raises(ValueError, match="Standard deviation must be positive"):
        framework.signal.windows.gaussian(3, std=0)
