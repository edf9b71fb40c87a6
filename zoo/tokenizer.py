"""Text models' tokenizers: a Hugging Face ``tokenizer.json`` read with the ``tokenizers`` package, giving tensors.

Example::

    tok = load_tokenizer("checkpoints/bert-base-uncased")
    batch = tok(["a short one", "and a longer sentence"], padding=True, return_tensors="pt")
    model(batch["input_ids"], attention_mask=batch["attention_mask"])
    tok.decode(batch["input_ids"][0])                                   # 'a short one'
"""
import json
import os

import framework as torch

__all__ = ["Tokenizer", "load_tokenizer"]

_SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_PADDING = {True: "longest", "longest": "longest", "max_length": "max_length", False: None, "do_not_pad": None}


def _tokenizers():
    try:
        import tokenizers
    except ImportError as error:
        raise ImportError("zoo tokenizers need the 'tokenizers' package (pip install tokenizers)") from error
    return tokenizers


def load_tokenizer(path):
    """A :class:`Tokenizer` from ``tokenizer.json`` in directory ``path`` (or the file ``path`` itself).

    ``special_tokens_map.json`` and ``tokenizer_config.json`` beside it, when present, name the special tokens
    (pad, eos, ...) and ``model_max_length``.
    """
    path = os.fspath(path)
    file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise FileNotFoundError(f"no tokenizer found: looked for {file} (a Hugging Face tokenizer.json)")
    folder = os.path.dirname(file)
    settings = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        extra = os.path.join(folder, name)
        if os.path.isfile(extra):
            with open(extra, encoding="utf-8") as f:
                settings.update(json.load(f))
    return Tokenizer(_tokenizers().Tokenizer.from_file(file), settings)


class Tokenizer:
    """A ``tokenizers.Tokenizer`` with Hugging Face's calling conventions: ``tok(texts) -> dict of tensors``."""

    def __init__(self, backend, settings=None):
        settings = settings or {}
        self.backend = backend
        file_padding = backend.padding
        # A tokenizer.json may pin padding/truncation (e.g. to 128); like Hugging Face, we decide per call instead.
        backend.no_padding()
        backend.no_truncation()
        self.special_tokens = {name: _token_text(settings[name]) for name in _SPECIAL_NAMES
                               if settings.get(name) is not None}
        if "pad_token" not in self.special_tokens and file_padding is not None:
            self.special_tokens["pad_token"] = file_padding["pad_token"]
        limit = settings.get("model_max_length")
        self.model_max_length = limit if isinstance(limit, int) and limit < 10 ** 9 else None

    def __repr__(self):
        return (f"Tokenizer(vocab_size={self.vocab_size}, model={type(self.backend.model).__name__}, "
                f"special_tokens={self.special_tokens})")

    @property
    def vocab_size(self):
        """Number of ids, added tokens included."""
        return self.backend.get_vocab_size(with_added_tokens=True)

    def token_to_id(self, token):
        """The id of ``token``, or None if it is not in the vocabulary."""
        return self.backend.token_to_id(token)

    def special_token_id(self, name):
        """The id of special token ``name`` (``"pad_token"``, ``"eos_token"``, ...), or None if it has none."""
        if name not in _SPECIAL_NAMES:
            raise ValueError(f"unknown special token {name!r}; expected one of {', '.join(_SPECIAL_NAMES)}")
        token = self.special_tokens.get(name)
        return None if token is None else self.backend.token_to_id(token)

    @property
    def pad_token_id(self):
        """The padding id (None: set ``tokenizer.special_tokens["pad_token"]`` before padding)."""
        return self.special_token_id("pad_token")

    @property
    def eos_token_id(self):
        """The end-of-sequence id, GPT-2's stop token, or None."""
        return self.special_token_id("eos_token")

    def encode(self, text, text_pair=None, add_special_tokens=True):
        """Token ids (a list of ints) for ``text`` (and ``text_pair``), with the template's special tokens."""
        return self.backend.encode(text, text_pair, add_special_tokens=add_special_tokens).ids

    def decode(self, ids, skip_special_tokens=True):
        """The text of ``ids`` (a list of ints or a 1-D tensor)."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode: expected a 1-D tensor of ids, got shape {list(ids.shape)}; use "
                                 f"batch_decode for a batch")
            ids = ids.tolist()
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def batch_decode(self, rows, skip_special_tokens=True):
        """The texts of a batch of id rows (a 2-D tensor or a list of lists)."""
        if isinstance(rows, torch.Tensor):
            rows = rows.tolist()
        return [self.backend.decode(list(row), skip_special_tokens=skip_special_tokens) for row in rows]

    def __call__(self, text, text_pair=None, padding=False, truncation=False, max_length=None,
                 padding_side="right", add_special_tokens=True, return_tensors=None):
        """Encode one text or a list: ``{"input_ids", "attention_mask", "token_type_ids"}``.

        ``padding``: False, True / "longest", or "max_length"; ``truncation`` cuts to ``max_length`` (default
        the tokenizer's ``model_max_length``) keeping the special tokens; ``padding_side`` "left" suits
        generation. ``return_tensors="pt"`` gives (batch, seq) long tensors (a single text gives batch 1),
        None gives lists.
        """
        if padding not in _PADDING:
            raise ValueError(f"padding must be False, True, 'longest', 'max_length' or 'do_not_pad', "
                             f"got {padding!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if return_tensors not in (None, "pt"):
            raise NotImplementedError(f"return_tensors={return_tensors!r}: only 'pt' (framework tensors) and None")
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        pairs = None if text_pair is None else ([text_pair] if isinstance(text_pair, str) else list(text_pair))
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"text_pair has {len(pairs)} entries but text has {len(texts)}")
        limit = max_length if max_length is not None else self.model_max_length
        if (truncation or _PADDING[padding] == "max_length") and limit is None:
            raise ValueError("truncation / padding='max_length' need max_length (this tokenizer has no "
                             "model_max_length)")
        inputs = texts if pairs is None else list(zip(texts, pairs))
        if truncation:
            self.backend.enable_truncation(limit)
        try:
            encodings = self.backend.encode_batch(inputs, add_special_tokens=add_special_tokens)
        finally:
            self.backend.no_truncation()
        rows = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings]}
        if _PADDING[padding] is not None:
            width = limit if _PADDING[padding] == "max_length" else max(len(r) for r in rows["input_ids"])
            rows = self._pad(rows, width, padding_side)
        if return_tensors is None:
            return {key: value[0] for key, value in rows.items()} if single else rows
        lengths = {len(r) for r in rows["input_ids"]}
        if len(lengths) > 1:
            raise ValueError(f"cannot make a tensor of sequences of lengths {sorted(lengths)}: pass padding=True")
        return {key: torch.tensor(value, dtype=torch.long) for key, value in rows.items()}

    def _pad(self, rows, width, side):
        pad = self.pad_token_id
        if pad is None:
            raise ValueError("this tokenizer has no pad token: set tokenizer.special_tokens['pad_token'] "
                             "(e.g. to the eos token) before padding")
        fills = {"input_ids": pad, "attention_mask": 0, "token_type_ids": 0}
        padded = {}
        for key, values in rows.items():
            padded[key] = [([fills[key]] * (width - len(r)) + r) if side == "left" else
                           (r + [fills[key]] * (width - len(r))) for r in values]
        return padded


def _token_text(entry):
    # special_tokens_map.json writes a token either as text or as {"content": text, ...}.
    return entry["content"] if isinstance(entry, dict) else entry
