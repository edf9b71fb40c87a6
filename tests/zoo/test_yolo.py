"""YOLOv5s against a torch re-implementation with Ultralytics' names; box decoding and NMS against hand-computed
cases and a plain numpy NMS."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import framework as fw
from zoo.models import yolo

ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]


# ---- the reference: Ultralytics' YOLOv5s (v6 yaml) written out in torch ------------------------------------------
def make_reference(nc):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class Conv(tnn.Module):
        def __init__(self, c1, c2, k=1, s=1, p=None):
            super().__init__()
            self.conv = tnn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
            self.bn = tnn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
            self.act = tnn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Bottleneck(tnn.Module):
        def __init__(self, c, shortcut):
            super().__init__()
            self.cv1, self.cv2, self.shortcut = Conv(c, c, 1), Conv(c, c, 3), shortcut

        def forward(self, x):
            y = self.cv2(self.cv1(x))
            return x + y if self.shortcut else y

    class C3(tnn.Module):
        def __init__(self, c1, c2, n, shortcut=True):
            super().__init__()
            h = c2 // 2
            self.cv1, self.cv2, self.cv3 = Conv(c1, h), Conv(c1, h), Conv(2 * h, c2)
            self.m = tnn.Sequential(*[Bottleneck(h, shortcut) for _ in range(n)])

        def forward(self, x):
            return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))

    class SPPF(tnn.Module):
        def __init__(self, c1, c2):
            super().__init__()
            self.cv1, self.cv2, self.m = Conv(c1, c1 // 2), Conv(c1 * 2, c2), tnn.MaxPool2d(5, 1, 2)

        def forward(self, x):
            a = self.cv1(x)
            b = self.m(a)
            c = self.m(b)
            return self.cv2(torch.cat([a, b, c, self.m(c)], 1))

    class Detect(tnn.Module):
        def __init__(self):
            super().__init__()
            self.stride = torch.tensor([8.0, 16.0, 32.0])
            self.register_buffer("anchors", torch.tensor(ANCHORS, dtype=torch.float32).view(3, 3, 2)
                                 / self.stride.view(3, 1, 1))
            self.m = tnn.ModuleList(tnn.Conv2d(c, 3 * (nc + 5), 1) for c in (128, 256, 512))

        def forward(self, xs):
            raw, out = [], []
            for i, x in enumerate(xs):
                x = self.m[i](x)
                b, _, h, w = x.shape
                x = x.view(b, 3, nc + 5, h, w).permute(0, 1, 3, 4, 2).contiguous()
                raw.append(x)
                gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
                grid = torch.stack((gx, gy), 2).view(1, 1, h, w, 2).float() - 0.5
                s = x.sigmoid()
                xy = (s[..., :2] * 2 + grid) * self.stride[i]
                wh = (s[..., 2:4] * 2) ** 2 * (self.anchors[i] * self.stride[i]).view(1, 3, 1, 1, 2)
                out.append(torch.cat((xy, wh, s[..., 4:]), -1).view(b, -1, nc + 5))
            return raw if self.training else (torch.cat(out, 1), raw)

    class Concat(tnn.Module):
        def forward(self, xs):
            return torch.cat(xs, 1)

    class Model(tnn.Module):
        def __init__(self):
            super().__init__()
            up = tnn.Upsample(scale_factor=2.0, mode="nearest")
            self.model = tnn.Sequential(
                Conv(3, 32, 6, 2, 2), Conv(32, 64, 3, 2), C3(64, 64, 1), Conv(64, 128, 3, 2), C3(128, 128, 2),
                Conv(128, 256, 3, 2), C3(256, 256, 3), Conv(256, 512, 3, 2), C3(512, 512, 1), SPPF(512, 512),
                Conv(512, 256), up, Concat(), C3(512, 256, 1, False), Conv(256, 128), up, Concat(),
                C3(256, 128, 1, False), Conv(128, 128, 3, 2), Concat(), C3(256, 256, 1, False), Conv(256, 256, 3, 2),
                Concat(), C3(512, 512, 1, False), Detect())

        def forward(self, x):
            m, saved = self.model, {}
            for i in range(12):
                x = m[i](x)
                saved[i] = x
            x = m[13](m[12]([x, saved[6]]))
            saved[14] = x = m[14](x)
            p3 = m[17](m[16]([m[15](x), saved[4]]))
            p4 = m[20](m[19]([m[18](p3), saved[14]]))
            p5 = m[23](m[22]([m[21](p4), saved[10]]))
            return m[24]([p3, p4, p5])

    return Model()


def copy_into(ref, model, seed=0):
    """Random weights (BN statistics included) into ``model``, then the same state into ``ref``."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    state = {}
    for name, value in model.state_dict().items():
        array = value.numpy()
        if array.dtype == np.float32 and not name.endswith("anchors"):
            fan_in = int(np.prod(array.shape[1:])) if array.ndim > 1 else 16
            array = (rng.standard_normal(array.shape) / math.sqrt(fan_in)).astype(np.float32)
            if name.endswith("running_var"):
                array = np.abs(array) + 0.5
            elif name.endswith("bn.weight"):
                array = array + 1.0
        state[name] = array
    model.load_state_dict({k: fw.from_numpy(v.copy()) for k, v in state.items()})
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)


def close(ours, theirs, tol=1e-4):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


# ---- the network -----------------------------------------------------------------------------------------------------
def test_yolov5s_state_dict_matches_ultralytics_layout():
    model, ref = yolo.yolov5s(), make_reference(80)
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert list(mine) == list(theirs) and mine == theirs
    assert sum(p.numel() for p in model.parameters()) == 7235389  # Ultralytics' count for yolov5s, 80 classes
    assert fw.equal(model.model[24].anchors[0], fw.tensor([[1.25, 1.625], [2.0, 3.75], [4.125, 2.875]]))


def test_yolov5s_matches_reference_in_eval_and_train_mode():
    torch = pytest.importorskip("torch")
    model, ref = yolo.yolov5s(nc=3), make_reference(3)
    copy_into(ref, model)
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 96)).astype(np.float32)  # not square: grid x/y order
    model.eval(), ref.eval()
    ours, ours_raw = model(fw.from_numpy(x))
    with torch.no_grad():
        theirs, theirs_raw = ref(torch.from_numpy(x))
    assert tuple(ours.shape) == (2, 3 * (8 * 12 + 4 * 6 + 2 * 3), 8)
    close(ours, theirs, tol=2e-4)  # pixel coordinates up to ~100: 1e-4 relative
    for a, b in zip(ours_raw, theirs_raw):
        close(a, b)

    model.train(), ref.train()
    for a, b in zip(model(fw.from_numpy(x)), ref(torch.from_numpy(x))):
        close(a, b)
    close(model.model[9].cv2.bn.running_mean, ref.model[9].cv2.bn.running_mean)


def test_detect_bias_priors_and_batch_norm_settings():
    model = yolo.yolov5s(nc=80)
    bias = model.model[24].m[0].bias.reshape(3, 85)
    # Layer default init is uniform in +-1/sqrt(fan_in); the priors shift objectness and class logits.
    bound = 1 / math.sqrt(128)
    obj_prior, cls_prior = math.log(8 / (640 / 8) ** 2), math.log(0.6 / (80 - 0.99999))
    assert abs(float(bias[:, 4].mean()) - obj_prior) <= bound
    assert abs(float(bias[:, 5:].mean()) - cls_prior) <= bound / 10
    bn = model.model[2].m[0].cv1.bn
    assert bn.eps == 1e-3 and bn.momentum == 0.03
    assert fw.equal(model.stride, fw.tensor([8.0, 16.0, 32.0])) and "model.24.stride" not in model.state_dict()


def test_yolov5_rejects_sizes_off_the_stride_and_scales_with_multiples():
    with pytest.raises(ValueError, match="multiples of 32"):
        yolo.yolov5n()(fw.zeros(1, 3, 48, 64))
    n, s = yolo.yolov5n(), yolo.yolov5s()
    assert n.model[0].conv.out_channels == 16 and s.model[0].conv.out_channels == 32
    assert len(yolo.yolov5m().model[4].m) == 4  # round(6 * 0.67)


# ---- box decoding ----------------------------------------------------------------------------------------------------
def test_decode_boxes_against_hand_computed_values():
    nc = 2
    raw = fw.zeros(1, 1, 2, 3, 5 + nc)
    logit = math.log(3.0)  # sigmoid = 0.75
    raw[0, 0, 1, 2] = fw.tensor([logit, -logit, 0.0, logit, logit, 0.0, -logit])
    anchors = fw.tensor([[2.0, 3.0]])  # grid units: 16 x 24 pixels at stride 8
    out = yolo.decode_boxes(raw, anchors, 8.0)
    assert tuple(out.shape) == (1, 6, 7)
    # All-zero logits: centre (cell + 0.5) * stride, size = anchor, scores 0.5; cell (x=1, y=0) is row 1.
    np.testing.assert_allclose(out[0, 1].numpy(), [12.0, 4.0, 16.0, 24.0, 0.5, 0.5, 0.5], rtol=1e-6)
    # Cell (x=2, y=1): x = (2*0.75 + 2 - 0.5) * 8 = 24, y = (2*0.25 + 1 - 0.5) * 8 = 8,
    # w = (2*0.5)^2 * 16 = 16, h = (2*0.75)^2 * 24 = 54.
    np.testing.assert_allclose(out[0, 5].numpy(), [24.0, 8.0, 16.0, 54.0, 0.75, 0.5, 0.25], rtol=1e-6)
    with pytest.raises(ValueError, match="anchors"):
        yolo.decode_boxes(raw, fw.ones(2, 2), 8.0)


def test_xywh_to_corners():
    np.testing.assert_allclose(yolo.xywh2xyxy(fw.tensor([[10.0, 20.0, 4.0, 6.0]])).numpy(), [[8, 17, 12, 23]])


# ---- non-maximum suppression -----------------------------------------------------------------------------------------
def numpy_nms(boxes, scores, threshold, classes=None):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        ok = True
        for k in keep:
            if classes is not None and classes[i] != classes[k]:
                continue
            lt = np.maximum(boxes[i, :2], boxes[k, :2])
            rb = np.minimum(boxes[i, 2:], boxes[k, 2:])
            inter = np.prod(np.clip(rb - lt, 0, None))
            union = np.prod(boxes[i, 2:] - boxes[i, :2]) + np.prod(boxes[k, 2:] - boxes[k, :2]) - inter
            if inter / union > threshold:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def test_nms_hand_computed_case():
    boxes = fw.tensor([[0.0, 0.0, 10.0, 10.0],   # 0: best
                       [1.0, 0.0, 11.0, 10.0],   # 1: IoU with 0 = 90/110 = 0.818 -> dropped
                       [5.0, 0.0, 15.0, 10.0],   # 2: IoU with 0 = 50/150 = 0.333 -> kept at 0.45
                       [20.0, 20.0, 30.0, 30.0]])  # 3: disjoint
    scores = fw.tensor([0.9, 0.8, 0.7, 0.6])
    assert yolo.nms(boxes, scores, 0.45).tolist() == [0, 2, 3]
    assert yolo.nms(boxes, scores, 0.3).tolist() == [0, 3]  # 2 now overlaps 0 too much
    assert yolo.nms(boxes, scores, 0.9).tolist() == [0, 1, 2, 3]
    # Class-aware: box 1 has its own class, so box 0 cannot suppress it; 2 (IoU with 1 = 60/140) stays too.
    assert yolo.nms(boxes, scores, 0.45, classes=fw.tensor([0, 1, 0, 0])).tolist() == [0, 1, 2, 3]
    assert yolo.nms(boxes, scores, 0.45, max_det=2).tolist() == [0, 2]
    assert yolo.nms(fw.zeros(0, 4), fw.zeros(0), 0.5).tolist() == []


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.integers(1, 40), st.floats(0.1, 0.9), st.booleans())
def test_nms_agrees_with_plain_numpy(seed, n, threshold, per_class):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 50, (n, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(1, 30, (n, 2))], 1).astype(np.float32)
    scores = rng.permutation(n).astype(np.float32) / n  # distinct, so the order is unambiguous
    classes = rng.integers(0, 3, n) if per_class else None
    keep = yolo.nms(fw.from_numpy(boxes), fw.from_numpy(scores), threshold,
                    None if classes is None else fw.from_numpy(classes))
    assert keep.tolist() == numpy_nms(boxes, scores, threshold, classes)


def test_nms_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"boxes \(K, 4\) and scores \(K,\)"):
        yolo.nms(fw.zeros(3, 4), fw.zeros(2), 0.5)


def _prediction():
    """Decoded rows (x, y, w, h, objectness, p0, p1) for one image."""
    return fw.tensor([[[5.0, 5.0, 10.0, 10.0, 0.9, 0.9, 0.1],    # score 0.81, class 0
                       [6.0, 5.0, 10.0, 10.0, 0.8, 0.2, 0.8],    # score 0.64, class 1, overlaps row 0
                       [6.0, 5.0, 10.0, 10.0, 0.7, 0.9, 0.1],    # score 0.63, class 0, overlaps row 0
                       [50.0, 50.0, 10.0, 10.0, 0.2, 1.0, 0.0],  # objectness below 0.25
                       [80.0, 80.0, 10.0, 10.0, 0.5, 0.4, 0.3]]])  # score 0.2 below 0.25 after the product


def test_non_max_suppression_end_to_end():
    (det,) = yolo.non_max_suppression(_prediction(), conf_thres=0.25, iou_thres=0.45)
    np.testing.assert_allclose(det.numpy(), [[0, 0, 10, 10, 0.81, 0], [1, 0, 11, 10, 0.64, 1]], rtol=1e-6)
    (det,) = yolo.non_max_suppression(_prediction(), agnostic=True)
    assert det[:, 5].tolist() == [0.0]
    (det,) = yolo.non_max_suppression(_prediction(), classes=[1])
    assert det[:, 5].tolist() == [1.0]
    (det,) = yolo.non_max_suppression(_prediction(), max_det=1)
    assert det.shape[0] == 1
    # multi_label: a box reports every class scoring above conf_thres (row 4: class 0 at 0.2 and class 1 at 0.15);
    # row 1's class-0 score (0.16) and row 2 fall to row 0 within class 0.
    (det,) = yolo.non_max_suppression(_prediction(), conf_thres=0.1, multi_label=True)
    found = sorted(zip(det[:, 4].tolist(), det[:, 5].tolist()), reverse=True)
    np.testing.assert_allclose(found, [(0.81, 0), (0.64, 1), (0.2, 0), (0.2, 0), (0.15, 1)], rtol=1e-6)
    with pytest.raises(ValueError, match="conf_thres"):
        yolo.non_max_suppression(_prediction(), conf_thres=1.5)


def test_detector_output_feeds_nms():
    model = yolo.yolov5n(nc=2).eval()
    with fw.no_grad():
        decoded, _ = model(fw.randn(2, 3, 64, 64))
        results = yolo.non_max_suppression(decoded, conf_thres=0.0, iou_thres=0.5, max_det=7)
    assert len(results) == 2 and all(r.shape == (7, 6) for r in results)
    assert all(r[:, 4].tolist() == sorted(r[:, 4].tolist(), reverse=True) for r in results)


def test_torch_saved_training_checkpoint_loads_through_zoo(tmp_path):
    torch = pytest.importorskip("torch")
    import zoo
    ref = make_reference(3)
    model = yolo.yolov5s(nc=3)
    copy_into(ref, model, seed=2)
    path = tmp_path / "yolov5s.pt"
    torch.save({"epoch": 3, "model": ref.state_dict()}, path)
    loaded = zoo.load("yolov5s", weights=str(path), nc=3)
    x = np.random.default_rng(3).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        close(loaded(fw.from_numpy(x))[0], ref.eval()(torch.from_numpy(x))[0], tol=2e-4)
