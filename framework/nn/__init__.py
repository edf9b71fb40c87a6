"""``framework.nn``: ``Module``, ``Parameter``, the layer classes, ``functional``, ``init`` and ``utils``."""
from . import functional  # noqa: F401
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import init  # noqa: F401
from . import utils  # noqa: F401
