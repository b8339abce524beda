"""History view: sorted, elites marked and protected, budget respected."""

from __future__ import annotations

from rectune.domain import ArmResult, Candidate, MetricResult, MetricSpec
from rectune.memory import history_view, select_elites

METRICS = [
    MetricSpec(name="dwell", role="primary", direction="increase"),
    MetricSpec(name="clicks", role="secondary", direction="increase", priority=2),
    MetricSpec(name="neg", role="guardrail", direction="decrease", guardrail_threshold=0.03),
]
BASE = {"a": 1.0, "b": 2}


def mr(name: str, lift: float) -> MetricResult:
    return MetricResult(metric=name, control_mean=1, treatment_mean=1 + lift,
                        relative_lift=lift, ci_low=lift - 0.005, ci_high=lift + 0.005,
                        p_value=0.5)


def cand(i: int, dwell: float, clicks: float, neg: float = 0.0, tested: bool = True) -> Candidate:
    cfg = {"a": round(1.0 + i * 0.01, 3), "b": 2}
    res = ArmResult(arm=f"a{i}", metrics={"dwell": mr("dwell", dwell),
                                          "clicks": mr("clicks", clicks),
                                          "neg": mr("neg", neg)}) if tested else None
    return Candidate(id=f"c{i:02d}", task="t", round=i // 5, delta={"a": cfg["a"]}, config=cfg,
                     hypothesis="h" * 50, result=res)


def _cands() -> list[Candidate]:
    out = [cand(i, dwell=0.001 * ((i * 7) % 30), clicks=0.001 * ((i * 11) % 17))
           for i in range(30)]
    out.append(cand(30, dwell=0.2, clicks=0.0, neg=0.2))  # best dwell but breaches
    out.append(cand(31, 0, 0, tested=False))
    return out


def test_sorted_and_marked() -> None:
    cands = _cands()
    sel = select_elites(cands, METRICS, max_size=4)
    view = history_view(cands, METRICS, elites=sel, baseline=BASE, budget_chars=100_000)
    lines = [line for line in view.text.splitlines() if line.startswith("- ")]
    assert lines[0].startswith("- c30") and "BREACH" in view.text.split("\n- ")[1]
    dwell_order = [c.id for c in sorted(cands[:31], key=lambda c: -c.result.metrics[  # type: ignore[union-attr]
        "dwell"].relative_lift)]
    assert [line.split()[1] for line in lines] == dwell_order
    assert view.text.count("[ELITE]:") == len(sel.elite_ids) == 4
    assert "a 1->" in view.text  # deltas shown against the baseline
    assert "1 candidate(s) without results" in view.text
    assert view.n_compressed == 0 and not view.over_budget


def test_budget_compresses_but_keeps_elites() -> None:
    cands = _cands()
    sel = select_elites(cands, METRICS, max_size=4)
    full = history_view(cands, METRICS, elites=sel, baseline=BASE, budget_chars=100_000)
    small = history_view(cands, METRICS, elites=sel, baseline=BASE, budget_chars=2500)
    assert len(small.text) <= 2500 < len(full.text)
    assert small.n_compressed > 0 and "to fit the budget" in small.text
    for eid in sel.elite_ids:
        assert f"- {eid} " in small.text and small.text.count("[ELITE]:") == 4
    # Every tested candidate is still accounted for: shown, shortened or named as folded.
    for c in cands[:31]:
        assert c.id in small.text
    tiny = history_view(cands, METRICS, elites=sel, baseline=BASE, budget_chars=10)
    assert tiny.over_budget and tiny.text.count("[ELITE]:") == 4
    assert tiny.n_folded == 31 - 4


def test_empty() -> None:
    assert history_view([], METRICS).n_rows == 0
