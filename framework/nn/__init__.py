"""``framework.nn``: layers and ``functional``."""
from . import functional  # noqa: F401
