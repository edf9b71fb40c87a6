"""Data movement: bytes a transfer is charged (bursts, GM lines) and the img2col expansion."""
import numpy as np


def gm_charged_bytes(config, start, rows, row_bytes, stride):
    """Bytes a strided GM transfer costs: 32-byte bursts, or every 512-byte line it touches once."""
    if rows == 0 or row_bytes == 0:
        return 0
    if stride == row_bytes:             # contiguous: one long burst
        rows, row_bytes = 1, rows * row_bytes
    if not config.charge_gm_lines:
        burst = config.dma_min_burst_bytes
        return rows * (-(-row_bytes // burst) * burst)
    line = config.gm_line_bytes
    if stride <= line:                  # rows share lines: the transfer touches its whole span
        first, last = start // line, (start + (rows - 1) * stride + row_bytes - 1) // line
        return (last - first + 1) * line
    if stride % line == 0:              # every row has the same alignment within a line
        s = start % line
        return rows * ((s + row_bytes - 1) // line + 1) * line
    starts = start + np.arange(rows, dtype=np.int64) * stride
    lines = (starts + row_bytes - 1) // line - starts // line + 1
    return int(lines.sum()) * line


def local_cycles(nbytes, bw):
    """Occupancy of a local (in-core) transfer of ``nbytes`` at ``bw`` bytes per cycle."""
    return -(-int(nbytes) // int(bw)) if float(bw).is_integer() else int(np.ceil(nbytes / bw))


def conv_out_size(size, kernel, stride, pad, dilation=1):
    """Output extent of a convolution along one axis; ``pad`` is one amount or a (low, high) pair."""
    lo, hi = pad if isinstance(pad, tuple) else (pad, pad)
    return (size + lo + hi - dilation * (kernel - 1) - 1) // stride + 1


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def img2col(fmap, kernel, stride, pad, dilation=1, m0=0, rows=None, k0=0, cols=None):
    """(C1, H, W, C0) feature map -> block [m0:m0+rows, k0:k0+cols] of its (Ho*Wo, C1*kh*kw*C0) patch matrix.

    K is ordered (c1, kh, kw, c0); ``pad`` per axis is one amount or a (low, high) pair (load3d's top/bottom,
    left/right); ``dilation`` one value or one per axis. Only the requested block is gathered.
    """
    c1, h, w, c0 = fmap.shape
    kh, kw = kernel
    sh, sw = stride
    (pt, pb), (pl, pr) = (_pair(p) for p in pad)
    dh, dw = _pair(dilation)
    ho = conv_out_size(h, kh, sh, (pt, pb), dh)
    wo = conv_out_size(w, kw, sw, (pl, pr), dw)
    rows = ho * wo - m0 if rows is None else rows
    cols = c1 * kh * kw * c0 - k0 if cols is None else cols
    padded = np.zeros((c1, h + pt + pb, w + pl + pr, c0), fmap.dtype)
    padded[:, pt:pt + h, pl:pl + w] = fmap
    pos, k = np.arange(m0, m0 + rows), np.arange(k0, k0 + cols)
    plane, rem = divmod(k, kh * kw * c0)
    i, j, cc = rem // (kw * c0), rem // c0 % kw, rem % c0
    y = (pos // wo)[:, None] * sh + i[None, :] * dh
    x = (pos % wo)[:, None] * sw + j[None, :] * dw
    return padded[plane[None, :], y, x, cc[None, :]]
