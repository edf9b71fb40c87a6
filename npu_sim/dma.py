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
    """Output extent of a convolution along one axis."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def img2col(fmap, kernel, stride, pad, dilation=1):
    """(C1, H, W, C0) feature map -> (Ho*Wo, C1*kh*kw*C0) patch matrix, K ordered (c1, kh, kw, c0)."""
    c1, h, w, c0 = fmap.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = pad
    ho = conv_out_size(h, kh, sh, ph, dilation)
    wo = conv_out_size(w, kw, sw, pw, dilation)
    padded = np.zeros((c1, h + 2 * ph, w + 2 * pw, c0), fmap.dtype)
    padded[:, ph:ph + h, pw:pw + w] = fmap
    oy = np.arange(ho)[:, None] * sh + np.arange(kh)[None, :] * dilation   # (ho, kh)
    ox = np.arange(wo)[:, None] * sw + np.arange(kw)[None, :] * dilation   # (wo, kw)
    # result index order (ho, wo, c1, kh, kw, c0)
    patches = padded[:, oy[:, None, :, None], ox[None, :, None, :], :]   # (c1, ho, wo, kh, kw, c0)
    return patches.transpose(1, 2, 0, 3, 4, 5).reshape(ho * wo, c1 * kh * kw * c0)
