"""Variable-length sequence helpers: ``PackedSequence`` and the pack / pad / unpad functions.

A packed batch stores its time steps one after another, each holding only the sequences still running
(``batch_sizes[t]`` of them, longest sequences first), so recurrent layers never compute on padding.
Every conversion is one gather (``index_select``) so gradients flow back to the padded input.
"""
from collections import namedtuple

import numpy as np

import framework
from ..._tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (``None`` stays ``None``)."""
    if permutation is None:
        return None
    inverse = np.empty(permutation.numel(), dtype=np.int64)
    inverse[permutation.numpy()] = np.arange(permutation.numel())
    return framework.from_numpy(inverse)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Packed time steps ``data``, the batch size of each step, and the permutation to and from sorted order."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor) or batch_sizes.dtype is not framework.int64 or batch_sizes.ndim != 1:
            raise ValueError("PackedSequence: batch_sizes should always be a 1D CPU int64 tensor, got "
                             f"{type(batch_sizes).__name__}")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """A packed sequence whose ``data`` is ``data.to(*args, **kwargs)``; the indices follow its device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self):
        """This packed sequence on the CPU."""
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        """This packed sequence on a CUDA device."""
        return self.to("cuda", *args, **kwargs)

    def double(self):
        """``data`` as float64."""
        return self.to(dtype=framework.float64)

    def float(self):
        """``data`` as float32."""
        return self.to(dtype=framework.float32)

    def half(self):
        """``data`` as float16."""
        return self.to(dtype=framework.float16)

    def long(self):
        """``data`` as int64."""
        return self.to(dtype=framework.int64)

    def int(self):
        """``data`` as int32."""
        return self.to(dtype=framework.int32)

    @property
    def is_cuda(self):
        """Whether ``data`` lives on a CUDA device."""
        return self.data.device.type == "cuda"


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        return lengths.numpy().astype(np.int64).reshape(-1)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _sizes_from_lengths(lengths):
    """``batch_sizes[t]``: how many of the (descending) ``lengths`` exceed ``t``."""
    steps = np.arange(int(lengths[0]) if lengths.size else 0)
    return (lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the given ``lengths``."""
    lengths = _lengths_array(lengths)
    batch_dim = 0 if batch_first else 1
    if lengths.size != input.shape[batch_dim]:
        raise RuntimeError(f"pack_padded_sequence: expected `lengths` to have {input.shape[batch_dim]} entries (the "
                           f"batch size), but got {lengths.size}")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that is "
                           "<= 0")
    sorted_indices = None
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                               "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order = np.arange(lengths.size)
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = framework.from_numpy(order.astype(np.int64))
    steps = input.shape[1 - batch_dim]
    if lengths.size and lengths[0] > steps:
        raise RuntimeError(f"pack_padded_sequence: a sequence length {int(lengths[0])} exceeds the padded length "
                           f"{steps}")
    batch_sizes = _sizes_from_lengths(lengths)
    # flat row of each packed element in the (T * B) time-major view of the input
    batch = lengths.size
    rows = [t * batch + order[:n] if not batch_first else order[:n] * steps + t for t, n in enumerate(batch_sizes)]
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    flat = input.reshape((-1,) + tuple(input.shape[2:]))
    data = flat.index_select(0, framework.from_numpy(rows.astype(np.int64)))
    return PackedSequence(data, framework.from_numpy(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: a padded batch in the original order, and each sequence's length."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy()
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    # sorted-order lengths, then each padded (t, b) slot's row in ``data`` (the extra last row is the padding)
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]]).astype(np.int64)
    pad_row = data.shape[0]
    index = np.full((steps, batch), pad_row, dtype=np.int64)
    for t, n in enumerate(batch_sizes):
        index[t, :n] = starts[t] + np.arange(n)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        order = unsorted.numpy()
        index, lengths = index[:, order], lengths[order]
    if batch_first:
        index = index.T
    filler = data.new_full((1,) + tuple(data.shape[1:]), padding_value)
    rows = framework.cat([data, filler]).index_select(0, framework.from_numpy(np.ascontiguousarray(index).reshape(-1)))
    padded = rows.reshape(index.shape + tuple(data.shape[1:]))
    return padded, framework.from_numpy(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with ``padding_value``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            filler = s.new_full((missing,) + tuple(s.shape[1:]), padding_value)
            s = framework.cat([s, filler] if padding_side == "right" else [filler, s])
        padded.append(s)
    return framework.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of tensors of the given ``lengths``."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors of shape (L_i, *) (longest first unless ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Unpack a ``PackedSequence`` into the list of its sequences, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
