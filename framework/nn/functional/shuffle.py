"""Channel shuffle (``F.channel_shuffle``): interleave the channels of ``groups`` groups, as in ShuffleNet."""
from ...ops._checks import check_tensor

__all__ = ["channel_shuffle", "native_channel_shuffle"]


def channel_shuffle(input, groups):
    """Split the channels into ``groups`` and transpose groups with channels-per-group (``F.channel_shuffle``)."""
    check_tensor(input, "channel_shuffle")
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = tuple(input.shape[2:])
    return input.reshape((n, groups, c // groups) + rest).transpose(1, 2).reshape(input.shape)


native_channel_shuffle = channel_shuffle
