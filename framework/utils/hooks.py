"""``torch.utils.hooks.RemovableHandle``: what every ``register_*_hook`` returns."""
import itertools

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook from every dict it is in."""

    _next_id = itertools.count()

    def __init__(self, *hook_dicts):
        self.id = next(RemovableHandle._next_id)
        self._dicts = hook_dicts

    def remove(self):
        """Unregister the hook."""
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
