"""The verdict rule of reproductions: Student-t interval, minimum detectable effect, premise, stale records."""
import json
import math

import numpy as np
import pytest

from snnlab.repro import BOOK_SEEDS, Premise, Reproduction, assess, get_reproduction, recorded_run, register, \
    reproduction_names, stale_differences
from snnlab.repro import registry
from snnlab.repro.protocol import Contrast
from snnlab.repro.results import minimum_detectable_effect, paired_effect, t_interval


def test_interval_golden_values_by_hand():
    # d = 1..5: mean 3, s = sqrt(2.5) = 1.5811, s/sqrt(5) = 0.70711; t_{0.975, 4} = 2.776445 (statistical tables)
    effect = paired_effect([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5)
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert effect["ci"] == pytest.approx([3 - half, 3 + half], abs=1e-5)          # [1.03676, 4.96324]
    assert effect["df"] == 4 and effect["t"] == pytest.approx(3 / math.sqrt(0.5))
    assert effect["verdict"] == "reproduced"
    # n = 3, d = (2, 2.5, 3): t_{0.975, 2} = 4.302653, s/sqrt(3) = 0.288675 -> 2.5 +- 1.242069
    assert t_interval(2.5, 0.5, 3) == pytest.approx((2.5 - 1.242069, 2.5 + 1.242069), abs=1e-5)


def test_three_seeds_at_t_above_two_are_no_longer_enough():
    # d = (1, 4, 4): mean 3, s = sqrt(3), t = 3 / (sqrt(3)/sqrt(3)) = 3 >= 2, but the 95 % interval (df 2) is
    # 3 +- 4.3027 * 1 = [-1.30, 7.30]: it straddles 0
    effect = paired_effect([1.0, 4.0, 4.0], [0.0, 0.0, 0.0])
    assert effect["t"] == pytest.approx(3.0) and effect["ci"][0] < 0 < effect["ci"][1]
    assert effect["verdict"] == "inconclusive"


@pytest.mark.parametrize("diffs,verdict", [([-3.0, -2.5, -2.0, -3.5, -2.2], "reversed"),
                                           ([1.0, -1.0, 0.5, -0.4, 0.2], "inconclusive"),
                                           ([0.4], "inconclusive")])
def test_verdict_follows_the_interval(diffs, verdict):
    effect = paired_effect(diffs, [0.0] * len(diffs))
    assert effect["verdict"] == verdict
    if len(diffs) == 1:
        assert effect["ci"] is None and effect["mde"] is None


def test_mde_golden_value_and_normal_approximation():
    # Noncentral-t solution for n = 5, s = 1 (pinned), close to the textbook approximation
    # (t_{0.975,4} + t_{0.8,4}) s / sqrt(n) = (2.776445 + 0.940965) / sqrt(5) = 1.66248
    assert minimum_detectable_effect(1.0, 5) == pytest.approx(1.681997, abs=1e-5)
    assert minimum_detectable_effect(1.0, 5) == pytest.approx(1.66248, rel=0.02)
    assert minimum_detectable_effect(2.0, 5) == pytest.approx(2 * minimum_detectable_effect(1.0, 5))
    assert minimum_detectable_effect(1.0, 20) < minimum_detectable_effect(1.0, 5) < minimum_detectable_effect(1.0, 3)
    assert minimum_detectable_effect(0.0, 5) == 0.0 and minimum_detectable_effect(1.0, 1) is None


def test_mde_has_the_stated_power_by_simulation():
    """An independent check: draw many 5-seed runs whose true difference is the MDE (sd 1) and count how often the
    interval rule calls them reproduced; the rate must be 0.8."""
    n, sd = 5, 1.0
    delta = minimum_detectable_effect(sd, n)
    rng = np.random.default_rng(0)
    draws = rng.normal(delta, sd, size=(100_000, n))
    t = draws.mean(1) / (draws.std(1, ddof=1) / np.sqrt(n))
    assert (t > 2.776445).mean() == pytest.approx(0.8, abs=0.005)


def test_equality_claims_keep_the_equality_rule():
    effect = paired_effect([97.4, 98.0], [97.4, 98.0], equivalence=0.0)
    assert effect["verdict"] == "reproduced" and effect["mde"] is None and effect["equivalence"] == 0.0
    assert paired_effect([97.4, 98.0], [97.4, 98.2], equivalence=0.0)["verdict"] == "not reproduced"


def _record(name, arms, effect_of):
    return {"name": name, "arms": {arm: {"per_seed": values, "mean": sum(values) / len(values),
                                         "metrics": metrics} for arm, (values, metrics) in arms.items()},
            "effect": {"of": effect_of}, "preset": "book"}


def test_premise_decides_the_verdict():
    # kdsnn's premise: the teacher beats the SNN student trained alone by >= 3 points, its interval excluding 0
    method, baseline = [80.0, 81.0, 82.0, 81.5, 80.5], [78.0, 78.5, 79.0, 79.2, 78.1]
    strong = _record("kdsnn", {"kd-response": (method, {}), "snn": (baseline, {}),
                               "teacher": ([85.0, 86.0, 85.5, 84.8, 85.9], {})}, "kd-response - snn")
    assessed = assess(strong)
    assert assessed["effect"]["verdict"] == "reproduced" and assessed["premise"]["status"] == "holds"
    weak = _record("kdsnn", {"kd-response": (method, {}), "snn": (baseline, {}),
                             "teacher": ([79.0, 79.2, 79.5, 79.8, 79.1], {})}, "kd-response - snn")
    assessed = assess(weak)                              # margin 0.96, interval [0.64, 1.28]: below 3 throughout
    assert assessed["premise"]["status"] == "fails" and assessed["premise"]["holds"] is False
    assert assessed["effect"]["verdict_of_difference"] == "reproduced"
    assert assessed["effect"]["verdict"] == "premise not met"
    noisy = _record("kdsnn", {"kd-response": (method, {}), "snn": (baseline, {}),
                              "teacher": ([89.0, 78.0, 85.0, 76.0, 88.0], {})}, "kd-response - snn")
    assessed = assess(noisy)                             # margin 4.64 >= 3, but its interval includes 0
    assert assessed["premise"]["status"] == "uncertain" and assessed["premise"]["holds"] is None
    assert assessed["effect"]["verdict"] == "inconclusive (premise uncertain)"
    no_teacher = _record("kdsnn", {"kd-response": (method, {}), "snn": (baseline, {})}, "kd-response - snn")
    assert assess(no_teacher)["effect"]["verdict"] == "premise not measured"


def test_every_reproduction_declares_a_premise_and_five_book_seeds():
    assert BOOK_SEEDS == 5
    for name in reproduction_names():
        reproduction = get_reproduction(name)
        assert isinstance(reproduction.premise, Premise) and reproduction.premise.statement
        assert reproduction.settings("book")["seeds"] == BOOK_SEEDS, name
    with pytest.raises(ValueError, match="declares no premise"):
        register(Reproduction(name="no-premise", paper="p", claim="c", metric="m", arms=("a", "b"),
                              presets={p: {} for p in ("smoke", "book", "paper")}, run_seed=lambda *a: {}))


def test_a_record_keeps_the_arms_a_run_returns_beyond_the_declared_ones(monkeypatch):
    def run_seed(settings, seed, progress):
        return {"method": {"final": 80.0 + seed, "curve": [80.0]}, "baseline": {"final": 79.0, "curve": [79.0]},
                "method-sweep1": {"final": 70.0 + seed, "curve": [70.0]}}

    preset = dict(dataset="digits", data_options=dict(size=8), seeds=2)
    toy = Reproduction(name="toy-extra-arms", paper="p", claim="c", metric="m", arms=("method", "baseline"),
                       presets={p: preset for p in ("smoke", "book", "paper")}, run_seed=run_seed,
                       premise=Premise("always", Contrast("baseline", 0.0), 0.0),
                       against="the baseline")
    monkeypatch.setitem(registry._REGISTRY, toy.name, toy)
    record = registry.run(toy.name, "smoke", out=None, progress=False)
    assert list(record["arms"]) == ["method", "baseline", "method-sweep1"]
    assert record["arms"]["method-sweep1"]["per_seed"] == [70.0, 71.0]
    monkeypatch.setitem(registry._REGISTRY, toy.name, Reproduction(**{**toy.__dict__, "arms": ("method", "missing")}))
    with pytest.raises(ValueError, match=r"no result for declared arm\(s\) \['missing'\]"):
        registry.run(toy.name, "smoke", out=None, progress=False)


def test_stale_differences_name_each_changed_entry():
    saved = {"seeds": 3, "train": {"epochs": 10, "lr": 0.003}, "steps": (6, 4, 2)}
    current = {"seeds": 5, "train": {"epochs": 10, "lr": 0.001}, "steps": [6, 4, 2], "T": 4}
    assert stale_differences(saved, current) == [
        "T: (absent) in the record, 4 in the preset", "seeds: 3 in the record, 5 in the preset",
        "train.lr: 0.003 in the record, 0.001 in the preset"]
    assert stale_differences(current, current) == []


def test_recorded_run_shows_a_stale_record_instead_of_training(tmp_path, monkeypatch):
    settings = {**get_reproduction("tet").settings("book"), "seeds": 3}
    arms = {"tet": ([70.0, 72.0, 71.0], {}), "mean_ce": ([69.0, 70.5, 70.0], {})}
    record = {**_record("tet", arms, "tet - mean_ce"), "preset": "book", "setting": settings}
    (tmp_path / "tet-book.json").write_text(json.dumps(record))
    monkeypatch.setattr(registry, "run", lambda *a, **k: pytest.fail("a saved record must not be retrained"))
    shown = recorded_run("tet", "book", results=tmp_path)
    assert shown["stale"] == ["seeds: 3 in the record, 5 in the preset"]
    assert shown["effect"]["ci"] is not None and shown["premise"]["holds"] is True      # SDT error 30 >= 3
    assert shown["source"] == str(tmp_path / "tet-book.json")
