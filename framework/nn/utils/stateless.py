"""``functional_call``: run a module with some parameters and buffers swapped for given tensors."""
import contextlib

__all__ = ["functional_call"]


def _merge(dicts):
    if isinstance(dicts, dict):
        return dict(dicts)
    merged, repeated = {}, []
    for d in dicts:
        repeated += [k for k in d if k in merged]
        merged.update(d)
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
    return merged


def _tied_names(module, replacements):
    """Give every name that shares a tensor with a replaced name the same replacement."""
    by_tensor = {}
    for name, t in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        by_tensor.setdefault(id(t), []).append(name)
    out = dict(replacements)
    for names in by_tensor.values():
        given = [n for n in names if n in replacements]
        if given:
            for n in names:
                if n in out and out[n] is not replacements[given[0]]:
                    raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, which are "
                                     "tied. Consider using tie_weights=False")
                out[n] = replacements[given[0]]
    return out


@contextlib.contextmanager
def _swapped(module, replacements):
    saved = []
    try:
        for name, value in replacements.items():
            path, _, attr = name.rpartition(".")
            owner = module.get_submodule(path)
            store = owner._parameters if attr in owner._parameters else \
                owner._buffers if attr in owner._buffers else None
            if store is None:
                saved.append((owner.__dict__, attr, owner.__dict__.get(attr, _MISSING)))
                owner.__dict__[attr] = value
            else:
                saved.append((store, attr, store[attr]))
                store[attr] = value  # a plain tensor may stand in for a Parameter here
        yield
    finally:
        for store, attr, old in reversed(saved):
            if old is _MISSING:
                del store[attr]
            else:
                store[attr] = old


_MISSING = object()


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named parameters/buffers replaced for this call only."""
    replacements = _merge(parameters_and_buffers)
    if strict:
        own = [n for n, _ in module.named_parameters(remove_duplicate=False)] + \
            [n for n, _ in module.named_buffers(remove_duplicate=False)]
        missing = [n for n in own if n not in replacements]
        unexpected = [n for n in replacements if n not in own]
        errors = []
        if unexpected:
            errors.append("Unexpected key(s): {}.".format(", ".join(repr(k) for k in unexpected)))
        if missing:
            errors.append("Missing key(s): {}.".format(", ".join(repr(k) for k in missing)))
        if errors:
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(errors))
    if tie_weights:
        replacements = _tied_names(module, replacements)
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _swapped(module, replacements):
        return module(*args, **(kwargs or {}))
