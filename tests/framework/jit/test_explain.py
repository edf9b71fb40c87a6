"""``explain``: graph breaks with the user's line, the pipeline report, predicted and measured gain, decision."""
import inspect

import pytest

import framework
from framework.jit.explain import MIN_GAIN_S, explain, predicted_gain, worth_compiling


class _Report:
    def __init__(self, before, after, saved=0):
        self.nodes_before, self.nodes_after, self.bytes_saved = before, after, saved


class _Graph:
    inputs, outputs = [object()], [object()]


COSTS = {"eager_op_s": 5e-6, "replay_op_s": 1e-6, "bandwidth_Bps": 1e10}


def test_cost_model_by_hand():
    # eager 100 ops * 5 us; replay 40 * 1 us + call (2 * 5 us + 2 * 1 us); 1 MB not written and read at 10 GB/s
    gain = predicted_gain(_Graph(), _Report(100, 40, 10 ** 6), COSTS)
    assert gain == pytest.approx(500e-6 - 52e-6 + 200e-6)
    assert worth_compiling(_Graph(), _Report(100, 40, 10 ** 6), COSTS) == (True, "compiled: predicted gain 648.0 us "
                                                                                 "per call")


def test_small_graphs_stay_eager():
    worth, reason = worth_compiling(_Graph(), _Report(2, 1), COSTS)
    assert not worth
    assert reason.startswith("stays eager: graph too small to win") and f"{MIN_GAIN_S * 1e6:.1f} us" in reason


def test_explain_reports_passes_fusion_plan_and_decision():
    x = framework.randn(32)
    e = explain(lambda x: (x * 2).relu() * 1.0, x, runs=2)
    assert e.breaks == [] and e.graph is not None
    assert [r.name for r in e.passes][0] == "constant_fold"
    assert e.memory_plan is not None and e.eager_s > 0 and e.compiled_s > 0
    assert e.measured_gain_s == pytest.approx(e.eager_s - e.compiled_s)
    assert not e.worth and "graph too small to win" in e.reason
    text = str(e)
    assert "graph breaks: none" in text and "predicted gain" in text and "decision: stays eager" in text


def test_explain_reports_graph_breaks_with_the_user_line():
    def branchy(x):
        y = x * 2
        if y.sum() > 0:  # the break
            return y
        return -y

    line = inspect.getsourcelines(branchy)[1] + 2
    e = explain(branchy, framework.ones(4), runs=1)
    assert len(e.breaks) == 1
    what, where = e.breaks[0]
    assert where == f"{__file__}:{line}" or where.endswith(f"test_explain.py:{line}")
    assert e.graph is None and not e.worth and e.reason.startswith("stays eager: graph break at")
    assert f"test_explain.py:{line}" in str(e)
