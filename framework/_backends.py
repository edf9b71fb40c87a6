"""Device type -> kernel table. Backends are tables of raw-array kernels, never if-chains."""
import importlib

from kernels import cpu as _cpu


class _Lazy:
    """A backend's kernel table imported on first lookup, so importing ``framework`` stays fast."""

    def __init__(self, module):
        self.module, self.table = module, None

    def get(self, name):
        """The kernel ``name``, or None."""
        if self.table is None:
            self.table = importlib.import_module(self.module).KERNELS
        return self.table.get(name)


TABLES = {"cpu": _cpu.KERNELS, "npu": _Lazy("kernels.npu")}


def kernel_for(device, name):
    """The kernel ``name`` of ``device``'s backend; a clear error names the op and the device if it has none."""
    table = TABLES.get(device.type)
    if table is None:
        raise RuntimeError(f"{device.type} backend is not available (cannot run '{name}' on {device})")
    kernel = table.get(name)
    if kernel is None:
        raise NotImplementedError(f"Could not run '{name}' with arguments from the '{device.type}' backend: "
                                  f"the {device.type} kernel table has no '{name}'")
    return kernel
