"""Build zoo models by name and load their weights from local checkpoints; never touches the network.

``weights`` may be:

- a Hugging Face model directory: ``config.json`` (passed to the builder as ``config=``) and
  ``model.safetensors``, a sharded ``model.safetensors.index.json``, or ``pytorch_model.bin``;
- a ``.safetensors`` file;
- a ``.pt`` / ``.pth`` / ``.bin`` file written by ``framework.save`` or ``torch.save``: a state dict, or a
  training checkpoint holding one under ``"model"``, ``"state_dict"`` or ``"model_state_dict"``;
- a state dict already in memory.

The family module's ``remap_state_dict(name, state_dict)`` (if it has one) renames a checkpoint's keys to ours,
then ``load_state_dict(strict=True)`` checks that every name and shape matches.
"""
import importlib
import inspect
import json
import os
import pkgutil

import framework as torch

_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_NESTED_KEYS = ("model", "state_dict", "model_state_dict")


def _registry():
    """``{name: (family module, builder)}`` over every ``zoo/models/*.py`` with a ``MODELS`` dict."""
    import zoo.models
    found = {}
    for info in sorted(pkgutil.iter_modules(zoo.models.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"zoo.models.{info.name}")
        for name, builder in getattr(module, "MODELS", {}).items():
            if name in found:
                raise RuntimeError(f"zoo: model name {name!r} is defined by both zoo.models.{found[name][0].__name__}"
                                   f" and {module.__name__}")
            found[name] = (module, builder)
    return found


def list_models():
    """Sorted names of every model in the zoo, e.g. ``['bert-base-uncased', ..., 'lenet', 'mlp', ...]``."""
    return sorted(_registry())


def model_family(name):
    """The family (the ``zoo/models`` module name) that defines model ``name``, e.g. ``'resnet'``."""
    return _lookup(name)[0].__name__.rsplit(".", 1)[-1]


def _lookup(name):
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(registry))}")
    return registry[name]


def load(name, weights=None, device="cpu", **config):
    """Build model ``name`` (keywords go to its builder) and load ``weights``; returns it on ``device``.

    Without ``weights`` the model keeps its fresh initialisation (train mode); with weights it is returned in
    eval mode, ready for inference. Example::

        net = zoo.load("resnet18", weights="resnet18.pth")
        bert = zoo.load("bert-base-uncased", weights="checkpoints/bert-base-uncased/")
    """
    module, builder = _lookup(name)
    state_dict = None
    if weights is not None:
        if isinstance(weights, dict):
            state_dict = weights
        else:
            hf_config, state_dict = read_checkpoint(weights)
            if hf_config is not None and "config" not in config:
                if not _accepts(builder, "config"):
                    raise TypeError(f"zoo.load({name!r}): {weights} has a config.json but this model is not "
                                    f"configured from one; pass a weights file instead of the directory")
                config["config"] = hf_config
    model = builder(**config)
    if state_dict is not None:
        remap = getattr(module, "remap_state_dict", None)
        if remap is not None:
            state_dict = remap(name, state_dict)
        model.load_state_dict(state_dict, strict=True)
        model.eval()
    return model.to(device)


def read_checkpoint(path):
    """``(config dict or None, state dict)`` from a Hugging Face directory or a weights file (see the module doc)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        config_path = os.path.join(path, "config.json")
        config = None
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        for filename in _HF_WEIGHTS:
            candidate = os.path.join(path, filename)
            if os.path.isfile(candidate):
                return config, _read_weights_file(candidate)
        raise FileNotFoundError(f"no weights in directory {path}: looked for {', '.join(_HF_WEIGHTS)}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights not found: {path} does not exist (expected a Hugging Face model "
                                f"directory, a .safetensors file or a {'/'.join(_TORCH_SUFFIXES)} file)")
    return None, _read_weights_file(path)


def _read_weights_file(path):
    if path.endswith(".safetensors.index.json"):
        return _read_sharded(path)
    if path.endswith(".safetensors"):
        import framework.serialization
        return framework.serialization.load_safetensors(path)
    if path.endswith(_TORCH_SUFFIXES):
        return _state_dict_of(torch.load(path, map_location="cpu", weights_only=True), path)
    raise ValueError(f"unsupported weights file {path}: expected .safetensors, .safetensors.index.json or "
                     f"{', '.join(_TORCH_SUFFIXES)}")


def _read_sharded(index_path):
    """Merge the shards a ``model.safetensors.index.json`` lists (its ``weight_map`` values)."""
    with open(index_path, encoding="utf-8") as f:
        weight_map = json.load(f).get("weight_map")
    if not isinstance(weight_map, dict):
        raise ValueError(f"{index_path}: no 'weight_map' object: not a safetensors shard index")
    folder = os.path.dirname(index_path)
    state_dict = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = os.path.join(folder, shard)
        if not os.path.isfile(shard_path):
            raise FileNotFoundError(f"{index_path} lists shard {shard}, but {shard_path} does not exist")
        state_dict.update(_read_weights_file(shard_path))
    return state_dict


def _state_dict_of(obj, path):
    """The state dict inside a loaded ``.pt`` object: the object itself or a training checkpoint's entry."""
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in _NESTED_KEYS:
            if isinstance(obj.get(key), dict):
                return _state_dict_of(obj[key], path)
    raise ValueError(f"{path} holds a {type(obj).__name__} that is not a state dict (name -> tensor) nor a "
                     f"checkpoint with one under {', '.join(map(repr, _NESTED_KEYS))}")


def _accepts(builder, keyword):
    return keyword in inspect.signature(builder).parameters


def load_tokenizer(path):
    """The tokenizer saved with a text model: ``tokenizer.json`` in ``path`` (or ``path`` itself); needs tokenizers."""
    from zoo import tokenizer
    return tokenizer.load_tokenizer(path)
