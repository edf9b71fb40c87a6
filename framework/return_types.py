"""Named tuple results of multi-output ops (``torch.return_types.max``, ``.sort``, ...).

Each is a tuple subclass with named fields, so ``values, indices = x.max(0)`` and ``x.max(0).values`` both work.
"""

__all__ = []


def _make(name, fields):
    def __new__(cls, values):
        values = tuple(values)
        if len(values) != len(fields):
            raise TypeError(f"torch.return_types.{name} takes a {len(fields)}-sequence ({len(values)}-sequence given)")
        return tuple.__new__(cls, values)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{body})"

    def __reduce__(self):
        return type(self), (tuple(self),)

    namespace = {"__new__": __new__, "__repr__": __repr__, "__reduce__": __reduce__, "__slots__": (),
                 "n_fields": len(fields), "n_sequence_fields": len(fields), "n_unnamed_fields": 0,
                 "__doc__": f"Result of ``{name}``: a tuple with fields {', '.join(fields)}."}
    for i, field in enumerate(fields):
        namespace[field] = property(lambda self, i=i: tuple.__getitem__(self, i))
    cls = type(name, (tuple,), namespace)
    cls.__module__ = __name__
    globals()[name] = cls
    __all__.append(name)
    return cls


for _name in ("max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax", "cummin"):
    _make(_name, ("values", "indices"))
_make("aminmax", ("min", "max"))


def named(name, *values):
    """The ``return_types`` result ``name`` holding ``values``."""
    return globals()[name](values)
