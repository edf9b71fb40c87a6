"""Device objects: ``device('cpu')``, ``device('cuda', 0)``, ``device('npu:0')``."""

__all__ = ["device"]

KNOWN_TYPES = ("cpu", "cuda", "npu", "meta")


class device:
    """Where a tensor lives, as in ``torch.device``."""

    __slots__ = ("type", "index")
    _interned = {}

    def __new__(cls, type_or_str, index=None):
        if isinstance(type_or_str, device):
            return type_or_str
        if isinstance(type_or_str, int) and index is None:
            type_or_str, index = "cuda", type_or_str
        key = (type_or_str, index)
        found = cls._interned.get(key)
        if found is not None:
            return found
        kind, _, idx = str(type_or_str).partition(":")
        if idx:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type_or_str}")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_str}'")
            index = int(idx)
        if kind not in KNOWN_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(KNOWN_TYPES)} device type at start of device string: {type_or_str}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative")
        self = object.__new__(cls)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", index)
        cls._interned[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


cpu = device("cpu")


def to_device(value):
    """Normalise a device argument (str, int, device, None) to a device; None means cpu."""
    if value is None:
        return cpu
    if isinstance(value, device):
        return value
    return device(value)
