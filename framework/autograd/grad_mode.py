"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode."""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled"]


class _State(threading.local):
    enabled = True
    inference = False
    anomaly = False
    anomaly_check_nan = True


state = _State()


def is_grad_enabled():
    """Whether operations are currently recorded on the tape."""
    return state.enabled


def is_inference_mode_enabled():
    return state.inference


class _GradModeContext:
    """Base of the grad-mode context managers; usable as decorators too."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args = ()

    def __enter__(self):
        self._prev = (state.enabled, state.inference)
        self._apply()
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev
        return False

    def clone(self):
        return self.__class__(*self._args)


class no_grad(_GradModeContext):
    """Context manager / decorator that disables gradient recording."""

    def _apply(self):
        state.enabled = False


class enable_grad(_GradModeContext):
    """Context manager / decorator that enables gradient recording."""

    def _apply(self):
        state.enabled = True


class set_grad_enabled(_GradModeContext):
    """Set gradient recording on or off, as a function, context manager or decorator."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'mode' must be bool, not {type(mode).__name__}")
        self._args = (mode,)
        self._prev = (state.enabled, state.inference)
        state.enabled = mode

    def _apply(self):
        state.enabled = self._args[0]

    def __call__(self, fn):
        state.enabled, state.inference = self._prev  # used as a decorator: undo the eager switch
        return super().__call__(fn)

    def __enter__(self):
        return self


class inference_mode(_GradModeContext):
    """Like no_grad; tensors made inside are marked as inference tensors."""

    def __init__(self, mode=True):
        self._args = (mode,)

    def __call__(self, fn=None):
        if fn is None or isinstance(fn, bool):
            return inference_mode(True if fn is None else fn)
        return super().__call__(fn)

    def _apply(self):
        if self._args[0]:
            state.enabled, state.inference = False, True
