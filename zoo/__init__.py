"""Reference models and the high-level training API, built on the public ``framework`` API.

``zoo.list_models()``, ``zoo.load(name, weights=...)``, ``zoo.load_tokenizer(dir)``, ``zoo.Model`` (train /
evaluate / predict) with callbacks from ``zoo.callbacks``; ``python -m zoo --help`` for the command line.
"""
from . import callbacks  # noqa: F401
from .hub import list_models, load, load_tokenizer  # noqa: F401
from .model import Model  # noqa: F401

__all__ = ["list_models", "load", "load_tokenizer", "Model", "callbacks"]
