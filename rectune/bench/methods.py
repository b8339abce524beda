"""The tuning methods the benchmark compares, behind one small interface.

Every method plays the same game: each round it asks for up to K configurations, they run as
one A/B test against production, and it is told the measured results (relative lifts with
their intervals). After each round it names the configuration it would launch.

- ``rectune`` and ``rectune-nocritic`` use the offline `Engine` directly; the second skips the
  surrogate critic and launches the engine's first K proposals.
- ``rectune-hybrid`` is the hybrid mode with a scripted stand-in for the LLM
  (`rectune.bench.analyst.ScriptedAnalyst`): its ideas take at most the engine's LLM share of
  the proposals and go through the same critic.
- ``rectune-graph`` is ``rectune`` played through the real compiled round graph
  (`rectune.bench.graph_method`): slower, run on a few seeds to show the fast path equals it.
- ``sobol``, ``optuna-tpe``, ``optuna-gp`` and ``ax`` are the peers. They search the skill's
  soft box (the range a ranking engineer would configure), see the same measurements, and
  launch their best observed arm whose point estimates respect every guardrail.

Optional packages (optuna, torch for Optuna's GP sampler, ax-platform) are imported lazily;
`method_status` says whether a method can run here and, if not, why.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scipy.stats import qmc

from rectune.bench.analyst import ScriptedAnalyst
from rectune.config import DEFAULT_RISK_THRESHOLD
from rectune.domain import (
    ArmResult,
    Candidate,
    CandidateStatus,
    CategoricalParameter,
    Config,
    FloatParameter,
    IntParameter,
    LearnedRule,
    RuleConstraint,
    config_key,
    rules_after,
)
from rectune.optimizers import Engine, Observation, TuningProblem

__all__ = [
    "ALL_METHODS",
    "OPT_IN_METHODS",
    "PEER_METHODS",
    "ArmOutcome",
    "EngineMethod",
    "Method",
    "PeerMethod",
    "make_method",
    "method_status",
    "unique_configs",
]

ALL_METHODS = (
    "rectune",
    "rectune-nocritic",
    "rectune-hybrid",
    "rectune-graph",
    "sobol",
    "optuna-tpe",
    "optuna-gp",
    "ax",
)
"""Every method the benchmark knows, rectune's first."""

OPT_IN_METHODS = ("rectune-graph",)
"""Methods a benchmark runs only when named: ``rectune-graph`` checks ``rectune`` on a few
seeds and costs a full graph round per round."""

PEER_METHODS = ("sobol", "optuna-tpe", "optuna-gp", "ax")
"""The methods rectune is compared against."""


@dataclass(frozen=True)
class ArmOutcome:
    """One measured arm: the configuration and what the A/B test said about it."""

    config: Config
    result: ArmResult

    @property
    def lifts(self) -> dict[str, float]:
        """Measured relative lift per metric."""
        return {k: m.relative_lift for k, m in self.result.metrics.items()}

    @property
    def ses(self) -> dict[str, float]:
        """Standard error of each measured lift."""
        return {k: m.standard_error for k, m in self.result.metrics.items()}


class Method(Protocol):
    """What the benchmark needs from a tuning method."""

    name: str

    def ask(self, k: int) -> list[Config]:
        """Up to `k` full task configurations to test in the next round."""
        ...

    def tell(self, outcomes: Sequence[ArmOutcome]) -> None:
        """The measured arms of the round just run, in the order they were asked."""
        ...

    def launch(self) -> Config:
        """The configuration the method would ship now."""
        ...


Knob = FloatParameter | IntParameter | CategoricalParameter


def _knobs(problem: TuningProblem) -> list[Knob]:
    return list(problem.space)


def _choices(p: CategoricalParameter) -> tuple[str, ...]:
    return p.soft_choices if p.soft_choices is not None else p.choices


def _constraint_values(problem: TuningProblem, lifts: dict[str, float]) -> list[float]:
    """One value per guardrail, <= 0 when the measured lift respects it (Optuna's convention)."""
    out = []
    for g in problem.guardrails:
        assert g.guardrail_threshold is not None
        out.append(g.sign * (g.guardrail_threshold - lifts.get(g.name, 0.0)))
    return out


@dataclass
class EngineMethod:
    """rectune played round by round through the round policy the graph runs.

    Each round calls `rectune.round.policy.choose` — the same drafts, code checks, surrogate
    review (risk veto once evidence exists), selection (confirmation arm first, the engine's
    ranking, the model share cap, the never-stall fallback on the last pass) and Actor/Critic
    passes as the graph's actor and critic nodes — on an `EnginePort` over the task's problem.

    Attributes:
        problem: The task as the engine sees it.
        seed: Seed of the run; each round and pass derives its own from it.
        critic: Review and select with the surrogate critic; without it the policy's
            single-agent ablation keeps the engine's order (no review, no selection).
        proposals_per_arm: Engine drafts per arm to test (the critic's pool).
        confirm: Spend one arm on the engine's confirmation draft when it asks for one.
        engine: The engine itself.
        analyst: A stand-in for the LLM actor whose drafts come first, as a model's do in
            the graph (hybrid mode); None runs the engine alone.
        loop_cap: Actor/Critic passes per round (the graph's default).
        history: The engine's observations, read from `records` as the graph reads its
            journal.
        records: The measured arms as journal candidates (`rectune-graph` checks that this
            path picks what the compiled graph picks).
        learn: Learn rules after each round as the graph's Insight and Skill agents do; their
            constraints join the problem's (off only for ablations).
        rules: The rules learned so far (the shipped skills start with none).
        rounds: The run's round budget when the method is told it: the last round is then a
            decision round (`PolicySettings.decide`), as a person runs it with
            ``rectune run --decide``.
    """

    problem: TuningProblem
    seed: int
    critic: bool = True
    proposals_per_arm: int = 2
    confirm: bool = True
    engine: Engine = field(default_factory=Engine)
    analyst: ScriptedAnalyst | None = None
    name: str = "rectune"
    loop_cap: int = 3
    history: list[Observation] = field(default_factory=list)
    records: list[Candidate] = field(default_factory=list)
    learn: bool = True
    rules: list[LearnedRule] = field(default_factory=list)
    rounds: int | None = None
    round: int = 0
    last_choice: Any = None
    _given: list[RuleConstraint] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._given = list(self.problem.constraints)

    def settings(self, k: int) -> Any:
        """The policy's knobs for K arms."""
        from rectune.round.policy import PolicySettings

        return PolicySettings(
            proposals=max(k * self.proposals_per_arm, k),
            arms=k,
            loop_cap=self.loop_cap,
            risk_threshold=self.engine.risk_threshold,
            llm_share=self.engine.llm_share,
            confirm=self.confirm,
            single_agent=not self.critic,
            decide=self.rounds is not None and self.round >= self.rounds,
        )

    def ask(self, k: int) -> list[Config]:
        """The configurations the round policy selects for the next A/B test."""
        from rectune.domain import Draft
        from rectune.ports.engine import EnginePort
        from rectune.round.policy import choose, tested_keys

        self.round += 1
        settings = self.settings(k)
        extra: list[Draft] = []
        if self.analyst is not None:
            ideas = self.analyst.propose(
                self.engine, self.history, settings.proposals, round=self.round
            )
            extra = [
                Draft(hypothesis=p.hypothesis, explanation=p.explanation,
                      delta=dict(p.delta), source="llm")
                for p in ideas
            ]
        # What the graph's Actor and Critic derive from the journal (`tested_keys`): the
        # configurations tested in earlier rounds, and those that failed a guardrail (the
        # platform's verdict) or were stopped; the Actor steers the engine around the first.
        tested, failed = tested_keys(self.records, self.problem.metrics, exclude_round=self.round)
        choice = choose(
            EnginePort(self.engine, self.problem), self.history, settings,
            tested=tested, failed=failed, seed=self.seed, round_no=self.round, extra=extra,
            exclude=sorted(tested),
        )
        self.last_choice = choice
        return [dict(v.config) for v in choice.picks if v.config is not None]

    def tell(self, outcomes: Sequence[ArmOutcome]) -> None:
        """Record the measured arms as the graph's journal does, and read the engine's
        history from those records as the graph's nodes do (`observations_of`: an arm stopped
        early keeps only the guardrails it breached)."""
        from rectune.ports import observations_of

        for j, o in enumerate(outcomes):
            self.records.append(_record(self.problem, self.round, j, o))
        self.history, _ = observations_of(self.records)
        if self.learn:
            self._learn()

    def _learn(self) -> None:
        """The graph's Insight map and Skill agent on this task's records: findings, the
        evidence gate, and the learned rules' constraints in the problem the next round
        sees. (The cross-task reduce needs two tasks; a benchmark run has one.)"""
        from rectune.memory.insight_stats import analyze_task, rule_changes
        from rectune.optimizers import constraints_from_rules

        p = self.problem
        findings = analyze_task(p.task, self.records, p.space, p.baseline, p.metrics)
        changes = rule_changes(findings, self.rules, space=p.space, round_no=self.round)
        self.rules = rules_after(self.rules, changes.new, changes.retire, changes.update)
        constraints = [*self._given, *constraints_from_rules(self.rules)]
        self.problem = p.model_copy(update={"constraints": constraints})

    def launch(self) -> Config:
        """The engine's launch recommendation (shrunken estimate, production when unsure)."""
        return dict(self.engine.recommend(self.problem, self.history).config)


def _record(problem: TuningProblem, round_no: int, j: int, o: ArmOutcome) -> Candidate:
    """The journal's record of a measured arm, as the graph's record step leaves it (the
    critic's id scheme; completed, or aborted when the platform stopped the arm)."""
    config = dict(o.config)
    return Candidate(
        id=f"{problem.task}-r{round_no}-c{j + 1}",
        task=problem.task,
        round=round_no,
        delta={k: v for k, v in config.items() if problem.baseline.get(k) != v},
        config=config,
        status=CandidateStatus.ABORTED if o.result.aborted else CandidateStatus.COMPLETED,
        result=o.result,
    )


@dataclass
class PeerMethod:
    """A peer optimizer: a suggest/observe pair plus the naive launch rule.

    The launch is the best observed arm by measured objective among those that were not
    stopped by the platform and whose measured guardrail lifts respect every limit, as long
    as its measured objective is positive; production otherwise.

    Attributes:
        name: Method name.
        problem: The task.
        suggest: Returns up to k configurations.
        observe: Receives the measured arms of the round, in asked order.
    """

    name: str
    problem: TuningProblem
    suggest: Callable[[int], list[Config]]
    observe: Callable[[Sequence[ArmOutcome]], None]
    seen: list[ArmOutcome] = field(default_factory=list)

    def ask(self, k: int) -> list[Config]:
        """The optimizer's next batch."""
        return self.suggest(k)

    def tell(self, outcomes: Sequence[ArmOutcome]) -> None:
        """Feed the optimizer and remember the arms for the launch rule."""
        self.seen.extend(outcomes)
        self.observe(outcomes)

    def launch(self) -> Config:
        """The best measured feasible arm, or production."""
        best: Config = dict(self.problem.baseline)
        best_value = 0.0
        for o in self.seen:
            lifts = o.lifts
            if o.result.aborted or not self.problem.guardrails_hold(lifts):
                continue
            value = self.problem.objective(lifts)
            if value > best_value:
                best, best_value = dict(o.config), value
        return best


def _sobol(problem: TuningProblem, seed: int) -> PeerMethod:
    params = _knobs(problem)
    sampler = qmc.Sobol(d=len(params), scramble=True, seed=seed)

    def suggest(k: int) -> list[Config]:
        # Sobol points come in powers of two for balance; draw k and keep the sequence going.
        u = sampler.random(k)
        out: list[Config] = []
        for row in u:
            cfg: Config = {}
            for p, x in zip(params, row, strict=True):
                if isinstance(p, CategoricalParameter):
                    opts = _choices(p)
                    cfg[p.name] = opts[min(int(x * len(opts)), len(opts) - 1)]
                    continue
                lo, hi = p.soft_range
                if isinstance(p, IntParameter):
                    cfg[p.name] = int(min(hi, math.floor(lo + x * (hi - lo + 1))))
                else:
                    cfg[p.name] = round(float(lo + x * (hi - lo)), 4)
            out.append(cfg)
        return out

    return PeerMethod("sobol", problem, suggest, lambda _outcomes: None)


def _optuna(problem: TuningProblem, seed: int, kind: str, k: int) -> PeerMethod:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Optuna 5 marks `constraints_func` as deprecated; it is still the documented route for
    # constrained TPE and GP sampling, and the issue asks for it.
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
    params = _knobs(problem)

    def constraints(trial: Any) -> Sequence[float]:
        return list(trial.user_attrs.get("constraints", [0.0] * len(problem.guardrails)))

    sampler: Any
    if kind == "tpe":
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            constraints_func=constraints,
            n_startup_trials=k,
            multivariate=True,
            constant_liar=True,
        )
    else:
        sampler = optuna.samplers.GPSampler(
            seed=seed, constraints_func=constraints, n_startup_trials=k
        )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    pending: list[Any] = []

    def suggest(n: int) -> list[Config]:
        pending.clear()
        out: list[Config] = []
        for _ in range(n):
            trial = study.ask()
            cfg: Config = {}
            for p in params:
                if isinstance(p, CategoricalParameter):
                    cfg[p.name] = trial.suggest_categorical(p.name, list(_choices(p)))
                    continue
                lo, hi = p.soft_range
                log = p.scale.value == "log"
                if isinstance(p, IntParameter):
                    cfg[p.name] = trial.suggest_int(p.name, int(lo), int(hi), log=log)
                else:
                    cfg[p.name] = trial.suggest_float(p.name, float(lo), float(hi), log=log)
            pending.append(trial)
            out.append(cfg)
        return out

    def observe(outcomes: Sequence[ArmOutcome]) -> None:
        for trial, o in zip(pending, outcomes, strict=True):
            lifts = o.lifts
            trial.set_user_attr("constraints", _constraint_values(problem, lifts))
            study.tell(trial, problem.objective(lifts))
        pending.clear()

    return PeerMethod(f"optuna-{kind}", problem, suggest, observe)


def _quiet_ax() -> None:
    """Ax gives each of its loggers the INFO level on import; turn them down to warnings."""
    import logging

    for name in list(logging.root.manager.loggerDict):
        if name == "ax" or name.startswith("ax."):
            logging.getLogger(name).setLevel(logging.WARNING)


def _ax(problem: TuningProblem, seed: int, k: int) -> PeerMethod:
    # Imported by name so the type checker does not need Ax (an optional extra).
    ax_client: Any = importlib.import_module("ax.api.client")
    ax_configs: Any = importlib.import_module("ax.api.configs")
    Client, RangeParameterConfig = ax_client.Client, ax_configs.RangeParameterConfig
    ChoiceParameterConfig = ax_configs.ChoiceParameterConfig

    def spec(p: Knob) -> Any:
        if isinstance(p, CategoricalParameter):
            return ChoiceParameterConfig(
                name=p.name, values=list(_choices(p)), parameter_type="str", is_ordered=False
            )
        return RangeParameterConfig(
            name=p.name,
            parameter_type="int" if isinstance(p, IntParameter) else "float",
            bounds=(
                (int(p.soft_range[0]), int(p.soft_range[1]))
                if isinstance(p, IntParameter)
                else (float(p.soft_range[0]), float(p.soft_range[1]))
            ),
            scaling="log" if p.scale.value == "log" else "linear",
        )

    client = Client(random_seed=seed)
    _quiet_ax()
    client.configure_experiment(
        name=f"bench_{problem.task.replace(':', '_')}",
        parameters=[spec(p) for p in _knobs(problem)],
    )
    weights = problem.objective_weights
    objective = " + ".join(f"{w:.6g} * {name}" for name, w in weights.items())
    if len(weights) == 1:
        ((name, w),) = weights.items()
        objective = name if w > 0 else f"-{name}"
    constraints = []
    for g in problem.guardrails:
        op = ">=" if g.sign > 0 else "<="
        constraints.append(f"{g.name} {op} {g.guardrail_threshold}")
    client.configure_optimization(objective=objective, outcome_constraints=constraints)
    # One round of K quasi-random arms, then Bayesian optimization, like the Optuna samplers;
    # Ax's automatic initialization budget does not fill a batch of K in the second round.
    client.configure_generation_strategy(
        initialization_budget=k,
        initialization_random_seed=seed,
        min_observed_initialization_trials=k,
    )
    pending: list[int] = []

    def suggest(n: int) -> list[Config]:
        pending.clear()
        out: list[Config] = []
        # The generation strategy caps a request at the current node's limit *before* it
        # moves on: the first request after the initialization arms gets one trial (the
        # Sobol node has none left). Asking again for the rest fills the batch from the
        # Bayesian node, with the trials already generated as pending points.
        for _ in range(3):
            if len(out) >= n:
                break
            trials = client.get_next_trials(max_trials=n - len(out))
            for index, parameters in trials.items():
                pending.append(index)
                out.append(
                    {k: v for k, v in parameters.items() if isinstance(v, int | float | str)}
                )
            if not trials:
                break
        return out

    def observe(outcomes: Sequence[ArmOutcome]) -> None:
        for index, o in zip(pending, outcomes, strict=True):
            lifts, ses = o.lifts, o.ses
            client.complete_trial(
                trial_index=index,
                raw_data={m: (lifts[m], ses[m]) for m in lifts},
            )
        pending.clear()

    return PeerMethod("ax", problem, suggest, observe)


def method_status(name: str) -> str | None:
    """None when `name` can run here, otherwise why it cannot (a missing package).

    Raises:
        ValueError: for an unknown method name.
    """
    if name not in ALL_METHODS:
        raise ValueError(f"unknown method {name!r}; known: {list(ALL_METHODS)}")
    needs = {
        "optuna-tpe": ["optuna"],
        "optuna-gp": ["optuna", "torch"],
        "ax": ["ax"],
    }.get(name, [])
    missing = [pkg for pkg in needs if importlib.util.find_spec(pkg) is None]
    if missing:
        return f"absent: package {', '.join(missing)} is not installed"
    return None


GRAPH_RISK_THRESHOLD = DEFAULT_RISK_THRESHOLD
"""The graph's default risk threshold (`rectune.config.Context.risk_threshold`)."""


def _graph_engine() -> Engine:
    return Engine(risk_threshold=GRAPH_RISK_THRESHOLD)


def make_method(
    name: str, problem: TuningProblem, seed: int, k: int, rounds: int | None = None
) -> Method:
    """Build method `name` for one run.

    Args:
        name: One of `ALL_METHODS`.
        problem: The task, with the skill's space (soft box), metrics and production.
        seed: Seed of the run (the same seed index gives every method the same number).
        k: Arms per round.
        rounds: The run's round budget; rectune's methods make the last round a decision
            round (the peers have no use for it).

    Raises:
        ValueError: for an unknown method name.
        ImportError: when the method's package is missing (check `method_status` first).
    """
    if name == "rectune":
        return EngineMethod(
            problem, seed, critic=True, name=name, engine=_graph_engine(), rounds=rounds
        )
    if name == "rectune-nocritic":
        return EngineMethod(
            problem, seed, critic=False, name=name, engine=_graph_engine(), rounds=rounds
        )
    if name == "rectune-hybrid":
        return EngineMethod(
            problem,
            seed,
            name=name,
            engine=_graph_engine(),
            analyst=ScriptedAnalyst(problem, seed),
            rounds=rounds,
        )
    if name == "rectune-graph":
        from rectune.bench.graph_method import GraphMethod

        return GraphMethod(problem, seed, k, rounds=rounds)
    if name == "sobol":
        return _sobol(problem, seed)
    if name == "optuna-tpe":
        return _optuna(problem, seed, "tpe", k)
    if name == "optuna-gp":
        return _optuna(problem, seed, "gp", k)
    if name == "ax":
        return _ax(problem, seed, k)
    raise ValueError(f"unknown method {name!r}; known: {list(ALL_METHODS)}")


def unique_configs(configs: Sequence[Config]) -> list[Config]:
    """`configs` without repeats (by configuration key), first occurrence kept."""
    seen: set[str] = set()
    out: list[Config] = []
    for c in configs:
        key = config_key(c)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
