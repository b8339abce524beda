"""Transfer: start a task from what other experiments taught, not from scratch.

Two cases share one mechanism. After a **model launch** the task's optimum moves, but usually
not far: the experiments run before the launch still say where the good region was. A **new
task on the same knobs** (another surface, another market) can borrow a sibling task's arms.
In both, the old arms enter the surrogate as *transferred* observations: their errors are
widened (`SurrogateSettings.transfer_noise`, `transfer_drift`) so they inform the model
without overruling what this task measures; they anchor the first round's explorable region
(a safe old elite is a place worth looking around); and they are never launched, nor count as
tested, until this task measures them itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rectune.domain import Candidate
from rectune.optimizers.problem import LiftEstimate, Observation, TuningProblem

__all__ = ["transfer_observations"]


def transfer_observations(
    source: Iterable[Candidate | Observation],
    problem: TuningProblem,
    *,
    metrics: Sequence[str] | None = None,
) -> list[Observation]:
    """Arms of another task (or of this one before a model launch) as transferred observations.

    Knobs the target task does not have are dropped, knobs it has that the source did not set
    take the target's production value, and arms outside the target's hard bounds are skipped
    (they cannot be re-tested there). Only the target's metrics are kept (or `metrics`).

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> old = Observation(config={"w": 2.0, "x": 1},
        ...                   metrics={"clicks": LiftEstimate(lift=0.02, se=0.01)}, round=3)
        >>> [(o.config, o.transferred) for o in transfer_observations([old], problem)]
        [({'w': 2.0}, True)]
    """
    keep = set(metrics) if metrics is not None else {m.name for m in problem.metrics}
    out: list[Observation] = []
    for item in source:
        if isinstance(item, Candidate):
            if item.result is None or item.result.aborted or not item.result.metrics:
                continue
            obs = Observation.from_arm_result(dict(item.config), item.result, round=item.round)
        else:
            obs = item
        config = {**problem.baseline, **{k: v for k, v in obs.config.items() if k in problem.space}}
        try:
            config = problem.space.validate_config(config)
        except ValueError:  # outside the target's hard bounds or of the wrong type
            continue
        measured: dict[str, LiftEstimate] = {k: v for k, v in obs.metrics.items() if k in keep}
        if not measured:
            continue
        out.append(
            Observation(
                config=config, metrics=measured, round=obs.round, candidate_id=obs.candidate_id,
                traffic=obs.traffic, transferred=True,
            )
        )
    return out
