"""Device type -> kernel table. Backends are tables of raw-array kernels, never if-chains."""
from kernels import cpu as _cpu

TABLES = {"cpu": _cpu.KERNELS}


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
