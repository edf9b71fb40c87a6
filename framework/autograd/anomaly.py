"""Anomaly detection: record forward tracebacks on tape nodes and fail on NaN gradients."""
from .grad_mode import state


class detect_anomaly:
    """Context manager that makes backward report the forward line of a failing op and check for NaNs."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        import warnings
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", UserWarning, stacklevel=2)
        self._prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly, state.anomaly_check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        state.anomaly, state.anomaly_check_nan = self._prev
        return False


class set_detect_anomaly:
    """Turn anomaly detection on or off (as a function or a context manager)."""

    def __init__(self, mode, check_nan=True):
        self._prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly, state.anomaly_check_nan = bool(mode), check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.anomaly, state.anomaly_check_nan = self._prev
        return False


def is_anomaly_enabled():
    return state.anomaly
