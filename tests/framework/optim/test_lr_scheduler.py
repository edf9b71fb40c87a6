"""Learning-rate schedulers against PyTorch: 50-step lr sequences for every scheduler, state dicts, errors."""
import warnings

import pytest

import framework

torch = pytest.importorskip("torch")


def _opt(mod, name="SGD", lrs=(0.1, 0.01), **kwargs):
    groups = [{"params": [mod.ones(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(mod.optim, name)(groups, lr=0.5, **kwargs)


def _flat(nested):
    return [x for row in nested for x in row]


def _half(epoch):
    return 0.5 ** (epoch // 3)


def _decay(epoch):
    return 0.97


SCHEDULERS = [
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.93)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=17, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=8)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=1e-3)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=60)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.2], epochs=6, steps_per_epoch=10, anneal_strategy="linear", pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=55, three_phase=True, div_factor=10.0, final_div_factor=100.0)),
    ("LambdaLR", dict(lr_lambda=_half)),
    ("LambdaLR", dict(lr_lambda=[_half, lambda e: 1.0 / (e + 1)])),
    ("MultiplicativeLR", dict(lr_lambda=_decay)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.7, total_iters=20)),
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.25, total_iters=13)),
    ("PolynomialLR", dict()),
    ("PolynomialLR", dict(total_iters=30, power=2.0)),
]


def _lr_sequence(mod, name, kwargs, steps=50, optimizer="SGD", opt_kwargs=None):
    opt = _opt(mod, optimizer, **({"momentum": 0.9} if opt_kwargs is None else opt_kwargs))
    sched = getattr(mod.optim.lr_scheduler, name)(opt, **kwargs)
    seq = [sched.get_last_lr()]
    moms = []
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
        moms.append([g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups])
    return seq, moms


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_sequence_matches_torch(name, kwargs):
    ours, ours_m = _lr_sequence(framework, name, kwargs)
    theirs, theirs_m = _lr_sequence(torch, name, kwargs)
    assert _flat(ours) == pytest.approx(_flat(theirs), rel=1e-12, abs=1e-15)
    assert _flat(ours_m) == pytest.approx(_flat(theirs_m), rel=1e-12)


def test_one_cycle_cycles_adam_beta1():
    kwargs = dict(max_lr=0.01, total_steps=30)
    ours, ours_b = _lr_sequence(framework, "OneCycleLR", kwargs, steps=30, optimizer="Adam", opt_kwargs={})
    theirs, theirs_b = _lr_sequence(torch, "OneCycleLR", kwargs, steps=30, optimizer="Adam", opt_kwargs={})
    assert _flat(ours) == pytest.approx(_flat(theirs), rel=1e-12)
    assert _flat(ours_b) == pytest.approx(_flat(theirs_b), rel=1e-12)


def test_one_cycle_past_total_steps_raises():
    opt = _opt(framework)
    sched = framework.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def _composite(mod, kind):
    lrs = mod.optim.lr_scheduler
    opt = _opt(mod)
    if kind == "sequential":
        return opt, lrs.SequentialLR(opt, [lrs.LinearLR(opt, start_factor=0.1, total_iters=5),
                                           lrs.CosineAnnealingLR(opt, T_max=20),
                                           lrs.ExponentialLR(opt, gamma=0.9)], milestones=[5, 25])
    return opt, lrs.ChainedScheduler([lrs.ConstantLR(opt, factor=0.5, total_iters=4),
                                      lrs.ExponentialLR(opt, gamma=0.95), lrs.StepLR(opt, step_size=10)])


@pytest.mark.parametrize("kind", ["sequential", "chained"])
def test_composite_schedulers_match_torch(kind):
    seqs = []
    for mod in (framework, torch):
        opt, sched = _composite(mod, kind)
        seq = [sched.get_last_lr()]
        for _ in range(50):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        seqs.append(seq)
    assert _flat(seqs[0]) == pytest.approx(_flat(seqs[1]), rel=1e-12)


PLATEAU = [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs", cooldown=2),
           dict(patience=1, min_lr=[0.02, 0.001], eps=1e-3, threshold=0.05, cooldown=1)]


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.89, 0.89, 0.9, 0.91, 0.5, 0.5] * 5
    seqs = []
    for mod in (framework, torch):
        opt = _opt(mod)
        sched = mod.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        seq = []
        for m in metrics:
            opt.step()
            sched.step(m)
            seq.append([sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter, sched.best])
        seqs.append(seq)
    assert seqs[0] == seqs[1]


@pytest.mark.parametrize("name,kwargs", [("StepLR", dict(step_size=4)), ("CosineAnnealingLR", dict(T_max=9)),
                                         ("OneCycleLR", dict(max_lr=1.0, total_steps=40)),
                                         ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
                                         ("LambdaLR", dict(lr_lambda=_half))])
def test_state_dict_round_trip(name, kwargs):
    cls = getattr(framework.optim.lr_scheduler, name)
    opt = _opt(framework)
    sched = cls(opt, **kwargs)
    for _ in range(13):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 13
    opt2 = _opt(framework)
    opt2.load_state_dict(opt.state_dict())
    sched2 = cls(opt2, **kwargs)
    sched2.load_state_dict(state)
    for _ in range(10):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_state_dict_keys_match_torch():
    ours = framework.optim.lr_scheduler.StepLR(_opt(framework), step_size=3).state_dict()
    theirs = torch.optim.lr_scheduler.StepLR(_opt(torch), step_size=3).state_dict()
    assert ours == theirs


def test_closed_form_epoch_argument_matches_torch():
    seqs = []
    for mod in (framework, torch):
        opt = _opt(mod)
        sched = mod.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 6])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (5, 2, 8):
                sched.step(epoch)
                seqs.append(sched.get_last_lr())
    assert seqs[:3] == seqs[3:]


def test_warnings_and_errors():
    opt = _opt(framework)
    sched = framework.optim.lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        framework.optim.lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(KeyError, match="initial_lr"):
        framework.optim.lr_scheduler.StepLR(_opt(framework), step_size=2, last_epoch=3)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        framework.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        framework.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        framework.optim.lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        framework.optim.lr_scheduler.ChainedScheduler([framework.optim.lr_scheduler.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="either total_steps OR"):
        framework.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="must support momentum"):
        framework.optim.lr_scheduler.OneCycleLR(_opt(framework, "Adagrad"), max_lr=1.0, total_steps=5)
