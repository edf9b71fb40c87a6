"""Utilities (``torch.utils``): data loading lives in :mod:`framework.utils.data`."""
from . import data  # noqa: F401
from . import hooks  # noqa: F401
