"""Convolution as GEMM with img2col in MTE1 (REFERENCE §2.5): M = N*Ho*Wo, K = C1*kh*kw*C0, N = Cout.

The feature map travels GM -> L1 un-expanded (NC1HWC0); ``img2col_cbuf_to_ca`` expands patches while
writing L0A, so the kh*kw-fold expansion costs L1->L0A bandwidth only. Weights are a K x Cout matrix
with K ordered (c1, kh, kw, c0), i.e. FRACTAL_Z once loaded into L0B.
"""
from typing import NamedTuple

import numpy as np

from ..dma import conv_out_size
from ..fractal import c0_of, ceil_to
from .gemm import gemm_programs
from .tiling import choose_tiling


class ConvShape(NamedTuple):
    """One convolution layer (input C x H x W, square kernel)."""

    name: str
    cin: int
    cout: int
    h: int
    w: int
    k: int
    stride: int = 1
    pad: int = 0

    @property
    def ho(self):
        return conv_out_size(self.h, self.k, self.stride, self.pad)

    @property
    def wo(self):
        return conv_out_size(self.w, self.k, self.stride, self.pad)

    def gemm(self, batch=1):
        """(M, K, N) of the lowered GEMM, K without channel padding."""
        return batch * self.ho * self.wo, self.cin * self.k * self.k, self.cout

    def macs(self, batch=1):
        """Useful multiply-accumulates."""
        m, k, n = self.gemm(batch)
        return m * k * n


def weight_matrix(w, c0):
    """(Cout, Cin, kh, kw) -> (C1*kh*kw*C0, Cout), K ordered (c1, kh, kw, c0), channels zero-padded."""
    cout, cin, kh, kw = w.shape
    c1 = -(-cin // c0)
    wp = np.zeros((cout, c1 * c0, kh, kw), w.dtype)
    wp[:, :cin] = w
    return wp.reshape(cout, c1, c0, kh, kw).transpose(1, 3, 4, 2, 0).reshape(c1 * kh * kw * c0, cout)


def fmap_5hd(x, c0):
    """(C, H, W) -> (C1*H*W, C0) rows: NC1HWC0 for one image, channels zero-padded."""
    c, h, w = x.shape
    c1 = -(-c // c0)
    xp = np.zeros((c1 * c0, h, w), x.dtype)
    xp[:c] = x
    return xp.reshape(c1, c0, h, w).transpose(0, 2, 3, 1).reshape(c1 * h * w, c0)


class _ResidentFmaps:
    """A batch-aware A source for the numeric path: each product's whole feature map is loaded once into L1 and
    expanded by ``img2col_cbuf_to_ca`` per k-step; a new map waits until MTE1 has finished with the old one."""

    EVENT = 3    # a flag id the GEMM schedule leaves free (it ping-pongs ids 0 and 1)

    def __init__(self, fmaps, fmap_shape, kernel, stride, pad, dilation):
        self.fmaps, self.fmap_shape = fmaps, fmap_shape
        self.geometry = dict(kernel=kernel, stride=stride, pad=pad, dilation=dilation)
        c, h, w = fmap_shape
        ho = conv_out_size(h, kernel[0], stride[0], pad[0], dilation[0])
        wo = conv_out_size(w, kernel[1], stride[1], pad[1], dilation[1])
        self.shape = (ho * wo, fmaps[0].rows // (h * w) * kernel[0] * kernel[1] * fmaps[0].cols)
        self.tiles, self.loaded = {}, {}

    def l1_tile(self, p, bm, k1):
        if id(p) not in self.tiles:   # one map per core at a time serves every block: MTE1 does the expansion
            fm = self.fmaps[0]
            self.tiles[id(p)] = p.alloc_tile("L1", fm.rows, fm.cols, fm.dtype, "ND")
        return self.tiles[id(p)]

    def copy(self, p, tile, i, kk, m, kb, g=0):
        if self.loaded.get(id(p)) == g:
            return
        if id(p) in self.loaded:
            p.set_flag("MTE1", "MTE2", self.EVENT)     # the previous map's last expansion is done (WAR)
            p.wait_flag("MTE1", "MTE2", self.EVENT)
        p.copy_gm_to_cbuf(tile, self.fmaps[g])
        self.loaded[id(p)] = g

    def load(self, p, l0a, tile, i, k, m, kstep, g=0):
        p.img2col_cbuf_to_ca(l0a, tile, self.fmap_shape, m0=i, rows=m, k0=k, cols=kstep, **self.geometry)


def conv_programs(machine, x, w, stride=(1, 1), pad=(0, 0), dilation=(1, 1), groups=1, out_dtype=None,
                  tiling=None, cores=None):
    """Numeric batched, grouped 2-D convolution with img2col in MTE1, one launch.

    ``x`` (N, C, H, W), ``w`` (O, C/groups, kh, kw); ``pad`` per axis an amount or a (low, high) pair. Each
    (image, group) is one product of the batched GEMM: its feature map goes GM -> L1 once per core (NC1HWC0,
    channels zero-padded to C0), the group's weights are the B matrix. ``tiling`` = (bm, bn, k1, bk) or None
    for the tiler's choice. Returns (programs, read) with ``read()`` -> (N, O, Ho, Wo).
    """
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    c0 = c0_of("fp16")
    fmaps = [machine.tensor(fmap_5hd(x[i, g * cg:(g + 1) * cg], c0), "fp16") for i in range(n) for g in range(groups)]
    weights = [machine.tensor(weight_matrix(w[g * og:(g + 1) * og], c0), "fp16") for g in range(groups)]
    src = _ResidentFmaps(fmaps, (cg, h, wd), (kh, kw), tuple(stride), tuple(pad), tuple(dilation))
    M, K = src.shape
    out_dtype = out_dtype or ("fp32" if machine.config.bw_l0c_ub is None else "fp16")
    outs = [machine.empty(M, og, out_dtype) for _ in fmaps]
    if tiling is None:
        fm_bytes = fmaps[0].rows * c0 * 2
        tiling = choose_tiling(machine.config, M, K, og, max(1, (cores or machine.config.num_cores) // len(fmaps)),
                               a_gm_bytes=lambda bm: fm_bytes,     # a core's tiles each may need a new map
                               a_l1_bytes=lambda bm, k1: fm_bytes / 2)
    bm, bn, k1, bk = tiling
    progs = gemm_programs(machine, None, [weights[i % groups] for i in range(len(fmaps))], outs, bm=bm, bn=bn,
                          k1=k1, bk=bk, double_buffer=True, cores=cores, a_source=src)
    ho = conv_out_size(h, kh, stride[0], pad[0], dilation[0])
    wo = conv_out_size(wd, kw, stride[1], pad[1], dilation[1])

    def read():
        res = np.stack([machine.read(t) for t in outs]).reshape(n, groups, ho, wo, og)
        return res.transpose(0, 1, 4, 2, 3).reshape(n, o, ho, wo)
    return progs, read


def conv2d_programs(machine, x, w, stride=1, pad=0, cores=None, bm=64, bn=32, k1=None, bk=None):
    """Numeric single-image conv (C, H, W) with fixed tiles: returns (programs, read() -> (Cout, Ho, Wo))."""
    kk = w.shape[2] * w.shape[3] * c0_of("fp16")
    progs, read = conv_programs(machine, x[None], w, (stride, stride), (pad, pad), cores=cores,
                                tiling=(bm, bn, k1 or kk * 2, bk or kk))
    return progs, lambda: read()[0]


class _SlabSource:
    """Timing-only source: for each output tile and K-block, the input rows it needs (with halo)."""

    def __init__(self, gm_fmap, shape, batch, c0, k1):
        self.fm, self.s, self.batch, self.c0 = gm_fmap, shape, batch, c0
        self.c1 = gm_fmap.rows
        self.k1 = k1
        self.shape = (batch * shape.ho * shape.wo, self.c1 * shape.k * shape.k * c0)

    def positions(self, bm):
        """Input positions (with halo) an output tile of ``bm`` rows needs."""
        s = self.s
        out_rows = -(-bm // s.wo) + 1
        in_rows = (out_rows - 1) * s.stride + s.k
        return min(self.batch * s.h * s.w, in_rows * s.w)

    def planes(self, kb):
        unit = self.s.k * self.s.k * self.c0          # K per channel plane
        return min(self.c1, -(-kb // unit) + (1 if kb % unit else 0))

    def l1_tile(self, p, bm, k1):
        return p.alloc_tile("L1", self.planes(k1), self.positions(bm) * self.c0, "fp16", "ND")

    def copy(self, p, tile, i, kk, m, kb, g=0):
        q = self.positions(m)
        planes = self.planes(kb)
        c1_lo = min(kk // (self.s.k * self.s.k * self.c0), self.c1 - planes)
        pos0 = min(i * self.s.stride * self.s.stride, self.fm.cols // self.c0 - q)
        p.copy_gm_to_cbuf(tile, self.fm, c1_lo, pos0 * self.c0, planes, q * self.c0)


def _k1_options(unit):
    """L1 K-blocks made of whole channel planes, so no plane is fetched twice."""
    if unit % 64 == 0:
        return (512, 256, 128, 64)
    return tuple(unit * n for n in (8, 4, 3, 2, 1) if unit * n <= 1152) or (unit,)


def conv_layer_programs(machine, shape, batch=1, cores=None, tiling=None, fmap=None):
    """Timing-only programs for one convolution layer over ``batch`` images (coarse §4.5 schedule).

    ``fmap``: the GM tensor holding the input (e.g. the previous layer's output); returns
    ``(programs, output GmTensor)``. Layers with fewer than 16 input channels pack channels by 4
    (the "C04" small-channel mode) instead of padding each to 16, as the first layer of a CNN needs.
    """
    cfg = machine.config
    cores = cores or cfg.num_cores
    c0 = 4 if shape.cin <= 4 else c0_of("fp16")
    c1 = -(-shape.cin // c0)
    M, K, N = batch * shape.ho * shape.wo, ceil_to(c1 * shape.k * shape.k * c0, 16), shape.cout
    fm_cols = batch * shape.h * shape.w * c0
    if fmap is None or fmap.region.nbytes < c1 * fm_cols * 2:
        fmap = machine.empty(c1, fm_cols, "fp16")
    fm = fmap._replace(rows=c1, cols=fm_cols)      # the same bytes seen as C1 planes of (N*H*W, C0)
    c = machine.empty(M, N, "fp16")
    probe = _SlabSource(fm, shape, batch, c0, 512)
    if tiling is None:
        tiling = choose_tiling(cfg, M, K, N, cores,
                               a_gm_bytes=lambda bm: probe.positions(bm) * c1 * c0 * 2,
                               a_l1_bytes=lambda bm, k1: probe.planes(k1) * probe.positions(bm) * c0 * 2,
                               k1_options=_k1_options(shape.k * shape.k * c0))
    bm, bn, k1, bk = tiling
    # inference weights sit in GM pre-tiled (FRACTAL_Z per output-channel panel): contiguous blocks
    b = machine.empty(-(-N // bn) * K, min(bn, N), "fp16")
    src = _SlabSource(fm, shape, batch, c0, k1)
    src.shape = (M, K)
    programs = gemm_programs(machine, None, b, c, bm, bn, k1, bk, double_buffer=True, cores=cores,
                             coarse=True, a_source=src, b_panels=True)
    return programs, c
