"""YOLOv5-style detector (Ultralytics v6+ layout): CSP backbone of C3 blocks, SPPF, PANet neck, a Detect head
on strides 8/16/32 with three anchors each; box decoding and non-maximum suppression.

Module names follow Ultralytics' ``DetectionModel``: layers are ``model.0`` ... ``model.24``, each ``Conv`` is
``conv`` + ``bn`` (+ SiLU), C3 blocks have ``cv1``/``cv2``/``cv3`` and ``m.N.cv1``/``m.N.cv2``, and the head is
``model.24.m.{0,1,2}`` with the ``model.24.anchors`` buffer in grid units (pixels / stride), as Ultralytics stores it.
"""
import math

import framework as torch
import framework.nn as nn

# Pixel sizes (w, h) of the three anchors of each output level, smallest stride first (COCO k-means).
ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
STRIDES = (8, 16, 32)


class Conv(nn.Module):
    """Convolution (no bias, "same" padding for odd kernels), batch norm, SiLU."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x):
        """act(bn(conv(x)))."""
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """1x1 then 3x3 :class:`Conv`, with a residual connection when ``shortcut`` and the widths agree."""

    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(hidden, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        """x + cv2(cv1(x)), or without the residual."""
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convolutions: one branch through ``n`` Bottlenecks, one direct, then fused."""

    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(c1, hidden, 1, 1)
        self.cv3 = Conv(2 * hidden, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x):
        """cv3(cat(m(cv1(x)), cv2(x)))."""
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained max-pools (receptive fields k, 2k-1, 3k-2) concatenated."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        hidden = c1 // 2
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(hidden * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        """cv2(cat(x, m(x), m(m(x)), m(m(m(x))))) after cv1."""
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class Concat(nn.Module):
    """Concatenate a list of tensors along ``dimension``."""

    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, xs):
        """torch.cat(xs, dimension)."""
        return torch.cat(xs, self.d)


def make_grid(nx, ny, dtype=None, device=None):
    """Cell centres minus 0.5 as (1, 1, ny, nx, 2) ``(x, y)`` offsets: decoded centres span cell +- one cell."""
    ys = torch.arange(ny, dtype=dtype, device=device)
    xs = torch.arange(nx, dtype=dtype, device=device)
    yv, xv = torch.meshgrid(ys, xs, indexing="ij")
    return (torch.stack((xv, yv), 2) - 0.5).reshape(1, 1, ny, nx, 2)


def decode_boxes(raw, anchors, stride):
    """Decode one level's head output into image-space boxes.

    ``raw``: (N, A, H, W, 5 + C) logits as the Detect head lays them out; ``anchors``: (A, 2) in grid units
    (pixels / stride). Returns (N, A*H*W, 5 + C): centre ``x, y = (2 sigmoid(t) + grid - 0.5) * stride``, size
    ``w, h = (2 sigmoid(t))^2 * anchor * stride``, then sigmoid objectness and class scores.
    """
    if raw.ndim != 5 or raw.shape[-1] < 5 or anchors.shape != (raw.shape[1], 2):
        raise ValueError(f"decode_boxes: expected raw (N, A, H, W, 5 + C) and anchors (A, 2), got "
                         f"{tuple(raw.shape)} and {tuple(anchors.shape)}")
    n, na, ny, nx, no = raw.shape
    grid = make_grid(nx, ny, raw.dtype, raw.device)
    anchor_px = (anchors * stride).reshape(1, na, 1, 1, 2)
    y = raw.sigmoid()
    xy = (y[..., :2] * 2 + grid) * stride
    wh = (y[..., 2:4] * 2) ** 2 * anchor_px
    return torch.cat((xy, wh, y[..., 4:]), -1).reshape(n, na * ny * nx, no)


class Detect(nn.Module):
    """Per-level 1x1 convolutions predicting (x, y, w, h, objectness, classes) for each anchor.

    Training mode returns the raw per-level maps (N, A, H, W, 5 + C); eval mode returns
    ``(decoded (N, sum A*H*W, 5 + C), raw maps)``, boxes in pixels as centre x, y, width, height.
    """

    def __init__(self, nc=80, anchors=ANCHORS, ch=(), strides=STRIDES):
        super().__init__()
        if len(anchors) != len(ch) or len(strides) != len(ch):
            raise ValueError(f"Detect: need one anchor set and stride per input level, got {len(anchors)} anchor "
                             f"sets, {len(strides)} strides, {len(ch)} levels")
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.strides = tuple(float(s) for s in strides)  # Python numbers: decoding never reads a tensor on the host
        stride = torch.tensor(strides, dtype=torch.float32)
        self.register_buffer("stride", stride, persistent=False)
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).reshape(self.nl, -1, 2)
                             / stride.reshape(-1, 1, 1))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)

    def forward(self, xs):
        """Raw maps per level (training) or (decoded boxes, raw maps) (eval)."""
        raw, decoded = [], []
        for i, x in enumerate(xs):
            x = self.m[i](x)
            n, _, ny, nx = x.shape
            x = x.reshape(n, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            raw.append(x)
            if not self.training:
                decoded.append(decode_boxes(x, self.anchors[i], self.strides[i]))
        return raw if self.training else (torch.cat(decoded, 1), raw)


def _make_divisible(x, divisor=8):
    return int(math.ceil(x / divisor) * divisor)


class YOLOv5(nn.Module):
    """YOLOv5 detection model; ``depth_multiple``/``width_multiple`` scale it (n, s, m, l, x).

    >>> import framework as torch
    >>> model = yolov5s(nc=3).eval()
    >>> boxes, raw = model(torch.zeros(1, 3, 64, 64))
    >>> boxes.shape  # 3 anchors * (8*8 + 4*4 + 2*2) cells, 5 + 3 values
    torch.Size([1, 252, 8])
    """

    def __init__(self, nc=80, depth_multiple=0.33, width_multiple=0.50, anchors=ANCHORS, ch=3):
        super().__init__()

        def width(c):
            return _make_divisible(c * width_multiple)

        def depth(n):
            return max(round(n * depth_multiple), 1)

        w64, w128, w256, w512, w1024 = (width(c) for c in (64, 128, 256, 512, 1024))
        # (from, module): ``from`` -1 is the previous layer; a list names the layers whose outputs feed it.
        layers = [
            (-1, Conv(ch, w64, 6, 2, 2)),  # 0 P1/2
            (-1, Conv(w64, w128, 3, 2)),  # 1 P2/4
            (-1, C3(w128, w128, depth(3))),
            (-1, Conv(w128, w256, 3, 2)),  # 3 P3/8
            (-1, C3(w256, w256, depth(6))),
            (-1, Conv(w256, w512, 3, 2)),  # 5 P4/16
            (-1, C3(w512, w512, depth(9))),
            (-1, Conv(w512, w1024, 3, 2)),  # 7 P5/32
            (-1, C3(w1024, w1024, depth(3))),
            (-1, SPPF(w1024, w1024, 5)),  # 9
            (-1, Conv(w1024, w512, 1, 1)),  # 10
            (-1, nn.Upsample(scale_factor=2, mode="nearest")),
            ([-1, 6], Concat(1)),  # with backbone P4
            (-1, C3(w1024, w512, depth(3), False)),  # 13
            (-1, Conv(w512, w256, 1, 1)),  # 14
            (-1, nn.Upsample(scale_factor=2, mode="nearest")),
            ([-1, 4], Concat(1)),  # with backbone P3
            (-1, C3(w512, w256, depth(3), False)),  # 17 (P3/8 out)
            (-1, Conv(w256, w256, 3, 2)),
            ([-1, 14], Concat(1)),  # with head P4
            (-1, C3(w512, w512, depth(3), False)),  # 20 (P4/16 out)
            (-1, Conv(w512, w512, 3, 2)),
            ([-1, 10], Concat(1)),  # with head P5
            (-1, C3(w1024, w1024, depth(3), False)),  # 23 (P5/32 out)
            ([17, 20, 23], Detect(nc, anchors, (w256, w512, w1024))),  # 24
        ]
        self._sources = [f for f, _ in layers]
        self._keep = {i for f, _ in layers if isinstance(f, list) for i in f if i >= 0}
        self.model = nn.Sequential(*(m for _, m in layers))
        self.nc = nc
        self._init_weights()

    @property
    def stride(self):
        """Each output level's stride in pixels."""
        return self.model[-1].stride

    def _init_weights(self):
        detect = self.model[-1]
        with torch.no_grad():
            for conv, s in zip(detect.m, detect.strides):
                b = conv.bias.reshape(detect.na, -1)
                # Priors: about 8 objects per 640x640 image, and a 0.6 chance spread over the classes.
                b[:, 4] += math.log(8 / (640 / s) ** 2)
                b[:, 5:] += math.log(0.6 / (detect.nc - 0.99999))

    def forward(self, x):
        """Detect's output for images (N, 3, H, W) with H and W multiples of 32."""
        if x.ndim != 4 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"YOLOv5: expected images (N, C, H, W) with H and W multiples of 32, got "
                             f"{tuple(x.shape)}")
        outputs = []
        for i, (source, module) in enumerate(zip(self._sources, self.model)):
            if source != -1:
                x = [x if j == -1 else outputs[j] for j in source]
            x = module(x)
            outputs.append(x if i in self._keep else None)
        return x


def _yolov5(depth_multiple, width_multiple, config):
    settings = dict(depth_multiple=depth_multiple, width_multiple=width_multiple)
    settings.update(config)
    return YOLOv5(**settings)


def yolov5n(**config):
    """YOLOv5n: depth 0.33, width 0.25."""
    return _yolov5(0.33, 0.25, config)


def yolov5s(**config):
    """YOLOv5s: depth 0.33, width 0.50 (7.2M parameters at 80 classes)."""
    return _yolov5(0.33, 0.50, config)


def yolov5m(**config):
    """YOLOv5m: depth 0.67, width 0.75."""
    return _yolov5(0.67, 0.75, config)


MODELS = {"yolov5n": yolov5n, "yolov5s": yolov5s, "yolov5m": yolov5m}


def xywh2xyxy(boxes):
    """Centre x, y, width, height -> corners x1, y1, x2, y2 along the last dimension."""
    xy, half = boxes[..., :2], boxes[..., 2:4] / 2
    return torch.cat((xy - half, xy + half), -1)


def box_iou(a, b):
    """Pairwise IoU of corner-format boxes a (M, 4) and b (K, 4) as (M, K)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes, scores, iou_threshold, classes=None, max_det=None):
    """Greedy non-maximum suppression: indices of kept boxes, highest score first.

    A box is dropped when its IoU with a kept, higher-scoring box exceeds ``iou_threshold``; with ``classes``
    given, only boxes of the same class suppress each other. ``boxes`` are (K, 4) corners.
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
        raise ValueError(f"nms: expected boxes (K, 4) and scores (K,), got {tuple(boxes.shape)} and "
                         f"{tuple(scores.shape)}")
    order = scores.argsort(descending=True, stable=True)
    limit = boxes.shape[0] if max_det is None else max_det
    keep = []
    # Each pass keeps the best remaining box and drops the remaining boxes it overlaps too much.
    while order.numel() and len(keep) < limit:
        best, rest = order[:1], order[1:]
        keep.append(best)
        overlap = box_iou(boxes[best], boxes[rest])[0] > iou_threshold
        if classes is not None:
            overlap = overlap & (classes[rest] == classes[best])
        order = rest[~overlap]
    return torch.cat(keep) if keep else torch.zeros(0, dtype=torch.int64, device=boxes.device)


def non_max_suppression(prediction, conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False,
                        multi_label=False, max_det=300):
    """Filter decoded detections (N, K, 5 + C) into one (n, 6) tensor per image: x1, y1, x2, y2, score, class.

    ``score = objectness * class probability``; candidates below ``conf_thres`` go, then class-aware NMS at
    ``iou_thres`` (class-agnostic with ``agnostic=True``), keeping at most ``max_det`` per image. ``classes``
    keeps only the listed class ids; ``multi_label`` lets one box report every class above ``conf_thres``.
    """
    if not 0 <= conf_thres <= 1 or not 0 <= iou_thres <= 1:
        raise ValueError(f"non_max_suppression: conf_thres and iou_thres must lie in [0, 1], got {conf_thres} "
                         f"and {iou_thres}")
    if prediction.ndim != 3 or prediction.shape[-1] < 6:
        raise ValueError(f"non_max_suppression: expected prediction (N, K, 5 + C), got {tuple(prediction.shape)}")
    results = []
    for x in prediction:
        x = x[x[:, 4] > conf_thres]
        box = xywh2xyxy(x[:, :4])
        scores = x[:, 5:] * x[:, 4:5]
        if multi_label:
            i, j = (scores > conf_thres).nonzero(as_tuple=True)
            det = torch.cat((box[i], scores[i, j, None], j[:, None].to(x.dtype)), 1)
        else:
            conf, j = scores.max(1, keepdim=True)
            det = torch.cat((box, conf, j.to(x.dtype)), 1)[conf.reshape(-1) > conf_thres]
        if classes is not None:
            wanted = torch.tensor(classes, dtype=det.dtype, device=det.device)
            det = det[(det[:, 5:6] == wanted).any(1)]
        keep = nms(det[:, :4], det[:, 4], iou_thres, None if agnostic else det[:, 5], max_det)
        results.append(det[keep])
    return results
