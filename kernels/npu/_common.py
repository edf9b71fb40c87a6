"""What every NPU kernel shares: the simulated chip, the element types it computes in, and ``Unsupported``."""
import numpy as np

from npu_sim import ascend910

CONFIG = ascend910()  # the chip every kernel is lowered for (32 AI cores, 910-style UB path for outputs)

# numpy dtype of a kernel argument -> the simulator's element type for it
SIM_DTYPE = {np.dtype(np.float32): "fp32", np.dtype(np.float16): "fp16"}


class Unsupported(Exception):
    """The NPU has no lowering for these arguments (e.g. a dtype its units lack); the message says why."""


def sim_dtype(op, *arrays):
    """The simulator element type shared by ``arrays``, or ``Unsupported`` naming op and dtype."""
    dt = arrays[0].dtype
    kind = SIM_DTYPE.get(dt)
    if kind is None or any(a.dtype != dt for a in arrays):
        names = sorted({str(a.dtype) for a in arrays})
        raise Unsupported(f"'{op}' on npu takes float32 or float16 tensors of one dtype, got {', '.join(names)}")
    return kind
