"""An A/B platform backed by the embedded recommender simulator.

Users ``0 .. population-1`` are split by a salted hash of their id: each arm owns a slice of
``[0, 1)`` as wide as its traffic fraction, users past the last slice are not enrolled. Every
enrolled user first spends `pre_days` on production (the CUPED pre-period, which also lets
satisfaction and fatigue settle), then the experiment runs day by day on a virtual clock.
After each day the guardrails of every live treatment are checked against a group-sequential
boundary (O'Brien-Fleming-type alpha spending over the planned daily looks) and a clearly
harmful arm is stopped. The platform judges by the spec: metrics, roles, directions and
guardrail thresholds come from `spec.metric_specs`; the simulator knows knobs, not tasks.

Experiments and the idempotency-key index persist as JSON in `state_dir`. The simulation is
deterministic in (platform seed, salt, spec), so another process re-creates the per-user state
by replaying the days already run instead of storing it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from rectune.domain import (
    ConfigError,
    ExperimentResult,
    ExperimentSpec,
    ExperimentState,
    MetricRole,
    MetricSpec,
    SpecError,
)
from rectune.simulator.engine import Cohort, Simulator
from rectune.simulator.knobs import StackConfig, stack_config
from rectune.simulator.metrics import METRICS
from rectune.simulator.parts import WorldParts
from rectune.simulator.rng import hash_seed, mix32
from rectune.simulator.tasks import TASKS, full_config, production_stack
from rectune.simulator.world import WorldParams
from rectune.tools.analysis import ArmData, build_result, compare_metric, metric_baseline
from rectune.tools.platform import (
    ExperimentNotFoundError,
    ExperimentStatus,
    MetricBaseline,
    experiment_id_for,
    spec_fingerprint,
    validated_spec,
)
from rectune.tools.sequential import look_guardrail, spending_bounds
from rectune.tools.store import atomic_write_json, platform_lock, read_json

__all__ = [
    "SimulatedABPlatform",
    "assign_users",
    "judged_metrics",
    "revalidate",
    "validate_spec",
]

_SIMULATORS: dict[tuple[WorldParams, WorldParts], Simulator] = {}
_PILOTS: dict[
    tuple[WorldParams, WorldParts, int, int],
    list[tuple[NDArray[np.float64], NDArray[np.float64] | None]],
] = {}

CARRY_DECAY = 0.5
"""Share of an earlier experiment's satisfaction change a user still carries into the next
experiment on the same platform (halved again for each experiment in between)."""

CARRY_HISTORY = 3
"""How many earlier completed experiments leave a carry-over."""

MIN_USERS_PER_ARM = 50
"""An arm smaller than this cannot support any statistic; launching it is an error."""


def assign_users(
    population: int, salt: str, fractions: list[float]
) -> list[NDArray[np.int64]]:
    """Split user ids ``0..population-1`` into arms by a salted hash.

    Args:
        population: Number of users.
        salt: Randomisation salt; a different salt gives an independent split.
        fractions: Traffic fraction of each arm, in arm order (sum at most 1).

    Returns:
        The user ids of each arm.
    """
    ids = np.arange(population, dtype=np.int64)
    key = np.uint32(hash_seed("assign", salt))
    h = mix32(mix32(ids.astype(np.uint32) ^ key) + key)
    u = h.astype(np.float64) / 2.0**32
    edges = np.cumsum([0.0, *fractions])
    return [ids[(u >= lo) & (u < hi)] for lo, hi in pairwise(edges)]


def revalidate(spec: ExperimentSpec) -> ExperimentSpec:
    """Validate a spec again (see `rectune.tools.platform.validated_spec`).

    Raises:
        SpecError: with the validators' messages (days, traffic sum, duplicate names, ...).
    """
    return validated_spec(spec)


def judged_metrics(spec: ExperimentSpec) -> list[MetricSpec | str]:
    """The metrics an experiment is judged by, as the platform resolves them.

    1. `spec.metric_specs` when given: the spec's roles, directions and thresholds, always.
    2. Otherwise, for a shipped task name, the task's built-in metric table restricted to
       `spec.metrics` - a compatibility path for callers that send names only.
    3. Otherwise plain names (`spec.metrics`, or every simulator metric): reported and
       Holm-corrected as one family, no guardrail is monitored or judged.

    Raises:
        SpecError: a metric the simulator does not measure, naming the allowed ones.
    """
    allowed = list(METRICS)
    if spec.metric_specs:
        bad = [m.name for m in spec.metric_specs if m.name not in METRICS]
        if bad:
            raise SpecError(
                f"experiment metric_specs: unknown metric {bad[0]!r}; the simulator measures "
                f"{allowed}"
            )
        return list(spec.metric_specs)
    task = TASKS.get(spec.task)
    if task is not None:
        unknown = [m for m in spec.metrics if m not in task.metric_names]
        if unknown:
            raise SpecError(
                f"experiment metrics: unknown metric {unknown[0]!r} for task {task.name!r}; "
                f"allowed: {task.metric_names} (or send metric_specs)"
            )
        wanted = spec.metrics or task.metric_names
        return [task.metric(m) for m in wanted]
    bad_names = [m for m in spec.metrics if m not in METRICS]
    if bad_names:
        raise SpecError(
            f"experiment metrics: unknown metric {bad_names[0]!r}; the simulator measures "
            f"{allowed}"
        )
    return list(spec.metrics or allowed)


def validate_spec(spec: ExperimentSpec) -> dict[str, StackConfig]:
    """Check a spec and return the full stack config of every arm.

    A shipped task name keeps its arms to that task's knobs; any other name (a new skill on
    existing knobs) may set any simulator knob within the simulator's hard bounds. Knobs an
    arm leaves out run production.

    Raises:
        SpecError: unknown metric, or a spec-level problem (days, traffic sum, duplicate arm
            names) when the spec was built without validation.
        ConfigError: an unknown knob or a value outside the hard bounds, naming the knob, the
            arm and what is allowed.
    """
    spec = revalidate(spec)
    judged_metrics(spec)
    task = TASKS.get(spec.task)
    stacks: dict[str, StackConfig] = {}
    for arm in spec.arms:
        try:
            if task is not None:
                stacks[arm.name] = StackConfig.from_mapping(full_config(task.name, arm.config))
            else:
                stacks[arm.name] = stack_config(arm.config)
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.value, f"{exc.allowed} (arm {arm.name!r})") from None
    return stacks


class _ArmAbort(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: int
    reason: str


class _Carry(BaseModel):
    """An earlier experiment whose treatment users carry a satisfaction change."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: str
    salt: str
    fractions: list[float]
    residues: list[float]
    weight: float


class _Record(BaseModel):
    """The durable record of one experiment."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: str
    idempotency_key: str
    fingerprint: str
    spec: ExperimentSpec
    salt: str
    created_at: str
    state: ExperimentState = ExperimentState.RUNNING
    days_run: int = 0
    aborted_arms: dict[str, _ArmAbort] = Field(default_factory=dict)
    breaches: dict[str, dict[str, int]] = Field(default_factory=dict)
    abort_reason: str | None = None
    result: ExperimentResult | None = None
    residues: list[float] = Field(default_factory=list)
    carryover: list[_Carry] = Field(default_factory=list)


@dataclass(eq=False)
class _Run:
    """In-memory simulation state of one experiment."""

    cohorts: dict[str, Cohort]
    stacks: dict[str, StackConfig]
    assigned: dict[str, int]
    day: int = 0
    aborted: dict[str, tuple[int, str]] = field(default_factory=dict)
    breaches: dict[str, dict[str, int]] = field(default_factory=dict)
    control_snapshot: dict[str, NDArray[np.float64]] = field(default_factory=dict)


class SimulatedABPlatform:
    """The default `ABPlatform`: A/B tests on the embedded simulator.

    Args:
        state_dir: Where experiments persist; None keeps them in memory only.
        seed: Seed of the simulated world and of the platform's randomness.
        population: Users available to experiments.
        days_per_poll: None runs a whole test on the first `status`/`results` call; an int
            advances the virtual clock that many days per `status` call.
        pre_days: Days of production traffic before the test (the CUPED pre-period).
        monitor_alpha: One-sided chance, per (arm, guardrail), that the daily monitor flags a
            breach over the whole test when the true lift sits exactly at the threshold
            (spent over the looks by an O'Brien-Fleming-type function).
        verdict_alpha: Level of each guardrail's final non-inferiority verdict (the chance of
            `passed` when the true lift sits at the threshold).
        fault_drop: Fault injection for testing the SRM check: arm name -> share of that
            arm's users silently lost from the logs.
        world: Override the world's sizes (its seed is replaced by `seed`).
        pilot_users: Size of the production pilot behind `baselines` (power analysis) and
            the monitor's information schedule.
        first_user: Id of the first user of the population (calibration runs use fresh
            blocks of users; ids from 10,000,000 on belong to the oracle).
        parts: Switchable parts of the simulated world (default: all on).

    Example:
        >>> from rectune.domain import ArmSpec, ExperimentSpec
        >>> p = SimulatedABPlatform(seed=1, population=2000)
        >>> spec = ExperimentSpec(task="diversity", days=1,
        ...     control=ArmSpec(name="control", config={}, traffic=0.2),
        ...     treatments=[ArmSpec(name="a", config={"div_mmr_lambda": 0.3}, traffic=0.2)])
        >>> eid = p.launch(spec, "doc-example")
        >>> p.launch(spec, "doc-example") == eid
        True
        >>> p.status(eid).state.value
        'completed'
    """

    def __init__(
        self,
        state_dir: Path | str | None = None,
        seed: int = 0,
        population: int = 120_000,
        days_per_poll: int | None = None,
        pre_days: int = 4,
        monitor_alpha: float = 0.025,
        verdict_alpha: float = 0.05,
        fault_drop: Mapping[str, float] | None = None,
        world: WorldParams | None = None,
        pilot_users: int = 6000,
        first_user: int = 0,
        parts: WorldParts | None = None,
    ) -> None:
        if population < 2 * MIN_USERS_PER_ARM:
            raise SpecError(f"population={population}: must be at least {2 * MIN_USERS_PER_ARM}")
        if days_per_poll is not None and days_per_poll < 1:
            raise SpecError(f"days_per_poll={days_per_poll}: must be None or an integer >= 1")
        if pre_days < 0:
            raise SpecError(f"pre_days={pre_days}: must be >= 0")
        for label, a in (("monitor_alpha", monitor_alpha), ("verdict_alpha", verdict_alpha)):
            if not 0 < a < 0.5:
                raise SpecError(f"{label}={a}: must lie strictly between 0 and 0.5")
        if first_user < 0:
            raise SpecError(f"first_user={first_user}: must be >= 0")
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.seed = seed
        self.population = population
        self.days_per_poll = days_per_poll
        self.pre_days = pre_days
        self.monitor_alpha = monitor_alpha
        self.verdict_alpha = verdict_alpha
        self.fault_drop = dict(fault_drop or {})
        self.pilot_users = pilot_users
        self.first_user = first_user
        params = world or WorldParams()
        key = WorldParams(
            n_items=params.n_items, n_topics=params.n_topics, n_creators=params.n_creators,
            seed=seed,
        )
        self.parts = parts or WorldParts()
        if (key, self.parts) not in _SIMULATORS:
            _SIMULATORS[key, self.parts] = Simulator.create(params=key, parts=self.parts)
        self._sim = _SIMULATORS[key, self.parts]
        # The pilot depends only on the world, the pre-period and its size: shared by every
        # platform of the process (calibration builds one platform per launch).
        self._pilot = _PILOTS.setdefault((key, self.parts, pre_days, pilot_users), [])
        self._records: dict[str, _Record] = {}
        self._index: dict[str, str] = {}
        self._runs: dict[str, _Run] = {}
        self._schedules: dict[tuple[str, int], list[float]] = {}

    # ----------------------------------------------------------------- persistence
    def _exp_path(self, experiment_id: str) -> Path:
        assert self.state_dir is not None
        return self.state_dir / "experiments" / f"{experiment_id}.json"

    def _load(self, experiment_id: str) -> _Record:
        if self.state_dir is None:
            if experiment_id not in self._records:
                raise ExperimentNotFoundError(f"no experiment {experiment_id!r} on this platform")
            return self._records[experiment_id]
        path = self._exp_path(experiment_id)
        if not path.exists():
            raise ExperimentNotFoundError(
                f"no experiment {experiment_id!r} in {self.state_dir}"
            )
        record = _Record.model_validate(read_json(path))
        self._records[experiment_id] = record
        return record

    def _save(self, record: _Record) -> None:
        self._records[record.experiment_id] = record
        if self.state_dir is not None:
            atomic_write_json(self._exp_path(record.experiment_id), record.model_dump(mode="json"))

    def _read_index(self) -> dict[str, str]:
        if self.state_dir is None:
            return self._index
        path = self.state_dir / "index.json"
        return dict(read_json(path)) if path.exists() else {}

    def _lock(self) -> AbstractContextManager[object]:
        if self.state_dir is None:
            return nullcontext()
        lock: AbstractContextManager[object] = platform_lock(self.state_dir)
        return lock

    # ----------------------------------------------------------------- protocol
    def launch(self, spec: ExperimentSpec, idempotency_key: str) -> str:
        """Validate and register an experiment; the same key returns the same id.

        Raises:
            SpecError: invalid spec, too little traffic, or the key already used for a
                different spec.
            ConfigError: unknown knob or out-of-range value in an arm.
        """
        if not idempotency_key:
            raise SpecError("idempotency_key: must be a non-empty string")
        validate_spec(spec)
        for arm in spec.arms:
            users = arm.traffic * self.population
            if users < MIN_USERS_PER_ARM:
                raise SpecError(
                    f"arm {arm.name!r} traffic={arm.traffic}: only ~{users:.0f} of "
                    f"{self.population} users; at least {MIN_USERS_PER_ARM} are needed"
                )
        fingerprint = spec_fingerprint(spec)
        with self._lock():
            index = self._read_index()
            if idempotency_key in index:
                record = self._load(index[idempotency_key])
                if record.fingerprint != fingerprint:
                    raise SpecError(
                        f"idempotency_key {idempotency_key!r} was already used for experiment "
                        f"{record.experiment_id} with a different spec; use a new key"
                    )
                return record.experiment_id
            eid = experiment_id_for(idempotency_key)
            salt = spec.salt or hashlib.sha256(f"salt:{idempotency_key}".encode()).hexdigest()[:16]
            record = _Record(
                experiment_id=eid,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                spec=spec,
                salt=salt,
                created_at=datetime.now(UTC).isoformat(),
                carryover=self._carryover(index),
            )
            self._save(record)
            index[idempotency_key] = eid
            if self.state_dir is not None:
                atomic_write_json(self.state_dir / "index.json", index)
            else:
                self._index = index
            return eid

    def _carryover(self, index: Mapping[str, str]) -> list[_Carry]:
        """The earlier completed experiments whose users carry a change into a new one.

        Fixed at launch and stored in the record, so a replay in another process applies
        exactly the same carry-over.
        """
        if not self.parts.carryover:
            return []
        done = []
        for eid in dict.fromkeys(index.values()):
            try:
                rec = self._load(eid)
            except ExperimentNotFoundError:
                continue
            if rec.residues and any(r != 0.0 for r in rec.residues):
                done.append(rec)
        done.sort(key=lambda r: r.created_at)
        out = []
        for age, rec in enumerate(reversed(done[-CARRY_HISTORY:])):
            out.append(
                _Carry(
                    experiment_id=rec.experiment_id,
                    salt=rec.salt,
                    fractions=[a.traffic for a in rec.spec.arms],
                    residues=rec.residues,
                    weight=CARRY_DECAY ** (age + 1),
                )
            )
        return out

    def status(self, experiment_id: str) -> ExperimentStatus:
        """Progress of an experiment; advances the virtual clock while it runs."""
        with self._lock():
            record = self._load(experiment_id)
            if record.state is ExperimentState.RUNNING:
                step = self.days_per_poll or record.spec.days
                record = self._advance(record, min(record.spec.days, record.days_run + step))
            return self._status(record)

    def results(self, experiment_id: str) -> ExperimentResult:
        """Final results when finished, interim results (days so far) while running."""
        with self._lock():
            record = self._load(experiment_id)
            if record.state is ExperimentState.RUNNING and self.days_per_poll is None:
                record = self._advance(record, record.spec.days)
            if record.result is not None:
                return record.result
            return self._result(record, self._ensure_run(record), ExperimentState.RUNNING)

    def abort(self, experiment_id: str, reason: str) -> ExperimentStatus:
        """Stop a running experiment and freeze its results; finished ones are unchanged."""
        with self._lock():
            record = self._load(experiment_id)
            if record.state is ExperimentState.RUNNING:
                run = self._ensure_run(record)
                record = record.model_copy(
                    update={
                        "state": ExperimentState.ABORTED,
                        "abort_reason": reason or "aborted",
                    }
                )
                record = record.model_copy(
                    update={"result": self._result(record, run, ExperimentState.ABORTED)}
                )
                self._save(record)
                self._runs.pop(experiment_id, None)
            return self._status(record)

    def list_experiments(self) -> list[str]:
        """Ids of every experiment known to this platform (all processes if persisted)."""
        return sorted(set(self._read_index().values()))

    # ----------------------------------------------------------------- power analysis
    def baselines(self, task: str, days: int) -> dict[str, MetricBaseline]:
        """Per-metric noise under production, for power analysis.

        Estimated from a pilot population that never takes part in experiments, with the
        same CUPED adjustment the analysis uses. A shipped task gets its own metrics; any
        other name (a new skill) gets every metric the simulator measures.
        """
        if days < 1:
            raise SpecError(f"days={days}: must be an integer >= 1")
        task_def = TASKS.get(task)
        names = task_def.metric_names if task_def is not None else list(METRICS)
        exp, pre = self._pilot_day(days)
        return {
            name: metric_baseline(name, exp, pre, days, self.population) for name in names
        }

    def _pilot_day(self, days: int) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """The pilot's aggregates after `days` experiment days (one pilot run, extended)."""
        if len(self._pilot) < days:
            ids = np.arange(self.pilot_users, dtype=np.int64) + 50_000_000
            cohort = self._sim.cohort(ids, seed=hash_seed("pilot", self.seed))
            prod = production_stack()
            for _ in range(self.pre_days):
                cohort.run_day(prod, "pre")
            pre = cohort.aggregates.get("pre")
            self._pilot.clear()
            for _ in range(days):
                cohort.run_day(prod, "exp")
                self._pilot.append((cohort.aggregates["exp"].copy(), pre))
        return self._pilot[days - 1]

    def information_schedule(self, metric: str, days: int) -> list[float]:
        """Predicted information fraction of `metric` after each day of a `days`-day test.

        Information is one over the squared standard error; per-user metrics average over
        days, so it grows slower than the day count. Predicted from the production pilot,
        never from the experiment's own data (that would make the boundaries data-driven).
        """
        key = (metric, days)
        if key not in self._schedules:
            info = []
            for d in range(1, days + 1):
                exp, pre = self._pilot_day(d)
                b = metric_baseline(metric, exp, pre, d)
                info.append(b.coverage / b.cv**2)
            t = np.maximum.accumulate(np.asarray(info, dtype=np.float64))
            t = t / t[-1]
            for k in range(days - 2, -1, -1):
                t[k] = min(t[k], t[k + 1] - 1e-3)
            self._schedules[key] = [float(max(x, 1e-3)) for x in t]
        return self._schedules[key]

    # ----------------------------------------------------------------- simulation
    def _status(self, record: _Record) -> ExperimentStatus:
        return ExperimentStatus(
            experiment_id=record.experiment_id,
            task=record.spec.task,
            state=record.state,
            days_run=record.days_run,
            days_total=record.spec.days,
            aborted_arms={a: v.reason for a, v in record.aborted_arms.items()},
            abort_reason=record.abort_reason,
        )

    def _ensure_run(self, record: _Record) -> _Run:
        run = self._runs.get(record.experiment_id)
        if run is None:
            run = self._start(record)
            self._runs[record.experiment_id] = run
        if run.day < record.days_run:
            self._step(record, run, record.days_run)
        return run

    def _start(self, record: _Record) -> _Run:
        spec = record.spec
        stacks = validate_spec(spec)
        groups = assign_users(self.population, record.salt, [a.traffic for a in spec.arms])
        seed = hash_seed("experiment", self.seed, record.salt)
        prod = production_stack()
        cohorts: dict[str, Cohort] = {}
        assigned: dict[str, int] = {}
        for arm, ids in zip(spec.arms, groups, strict=True):
            drop = self.fault_drop.get(arm.name, 0.0)
            if drop > 0:
                # A logging fault loses some users of one arm: the split no longer matches.
                keep = mix32(ids.astype(np.uint32) ^ np.uint32(0xFA17)) >= np.uint32(drop * 2**32)
                ids = ids[keep]
            assigned[arm.name] = int(ids.size)
            cohort = self._sim.cohort(ids + self.first_user, seed)
            for prior in record.carryover:
                prior_groups = assign_users(self.population, prior.salt, prior.fractions)
                for group, shift in zip(prior_groups, prior.residues, strict=True):
                    if shift != 0.0:
                        cohort.carry(np.isin(ids, group), shift * prior.weight)
            for _ in range(self.pre_days):
                cohort.run_day(prod, "pre")
            cohorts[arm.name] = cohort
        breaches = {a: dict(m) for a, m in record.breaches.items()}
        return _Run(cohorts=cohorts, stacks=stacks, assigned=assigned, breaches=breaches)

    def _arm_data(self, record: _Record, run: _Run, name: str) -> ArmData:
        spec = record.spec
        arm = next(a for a in spec.arms if a.name == name)
        cohort = run.cohorts[name]
        stopped = run.aborted.get(name)
        n = len(cohort)
        exp = cohort.aggregates.get("exp", np.zeros((n, 10)))
        return ArmData(
            name=name,
            traffic=arm.traffic,
            exp=exp,
            pre=cohort.aggregates.get("pre"),
            days_run=stopped[0] if stopped else run.day,
            aborted=stopped is not None,
            abort_reason=stopped[1] if stopped else None,
            candidate_id=arm.candidate_id,
            control_exp=run.control_snapshot.get(name),
            control_pre=run.cohorts[spec.control.name].aggregates.get("pre") if stopped else None,
            days_planned=spec.days,
            stopped_early=stopped is not None and stopped[0] < spec.days,
            breaches=run.breaches.get(name, {}),
            daily_enrolled=self._daily_enrolled(cohort, run.day),
        )

    def _daily_enrolled(self, cohort: Cohort, days: int) -> list[int]:
        """Users entering the test per day: those present at the start, then the arrivals."""
        if days < 1:
            return []
        arrival = cohort.users.arrival
        start = self.pre_days
        first = int((arrival <= start).sum())
        return [first, *(int((arrival == start + d).sum()) for d in range(1, days))]

    def _guardrails(self, spec: ExperimentSpec) -> list[MetricSpec]:
        return [
            m
            for m in judged_metrics(spec)
            if isinstance(m, MetricSpec) and m.role is MetricRole.GUARDRAIL
        ]

    def _step(self, record: _Record, run: _Run, target: int) -> None:
        """Simulate days until `run.day == target`, stopping harmful arms on the way."""
        spec = record.spec
        guards = self._guardrails(spec)
        bounds = {
            g.name: spending_bounds(
                self.information_schedule(g.name, spec.days), self.monitor_alpha
            )
            for g in guards
        }
        control = spec.control.name
        while run.day < target:
            for arm in spec.arms:
                if arm.name not in run.aborted:
                    run.cohorts[arm.name].run_day(run.stacks[arm.name], "exp")
            run.day += 1
            ctrl = self._arm_data(record, run, control)
            for arm in spec.treatments:
                if arm.name in run.aborted:
                    continue
                data = self._arm_data(record, run, arm.name)
                crossed = []
                for g in guards:
                    if g.name in run.breaches.get(arm.name, {}):
                        continue
                    try:
                        cmp = compare_metric(g.name, ctrl, data)
                    except ValueError:
                        continue
                    look = look_guardrail(g, cmp.lift, cmp.se, bounds[g.name][run.day - 1])
                    if look.breached:
                        run.breaches.setdefault(arm.name, {})[g.name] = run.day
                        crossed.append(
                            f"guardrail {g.name} breached on day {run.day}: lift "
                            f"{cmp.lift:+.2%} is past the limit {g.guardrail_threshold:+.2%} "
                            f"(z {look.z:.2f} >= group-sequential boundary {look.boundary:.2f})"
                        )
                if crossed and run.day < spec.days:
                    run.aborted[arm.name] = (run.day, "; ".join(crossed))
                    run.control_snapshot[arm.name] = ctrl.exp.copy()

    def _advance(self, record: _Record, target: int) -> _Record:
        run = self._ensure_run(record)
        self._step(record, run, target)
        spec = record.spec
        update: dict[str, object] = {
            "days_run": run.day,
            "aborted_arms": {a: _ArmAbort(day=d, reason=r) for a, (d, r) in run.aborted.items()},
            "breaches": {a: dict(m) for a, m in run.breaches.items()},
        }
        all_stopped = all(a.name in run.aborted for a in spec.treatments)
        if run.day >= spec.days or all_stopped:
            state = ExperimentState.COMPLETED if run.day >= spec.days else ExperimentState.ABORTED
            update["state"] = state
            if all_stopped and state is ExperimentState.ABORTED:
                update["abort_reason"] = "every treatment arm was stopped by a guardrail"
            update["residues"] = self._residues(record, run)
            record = record.model_copy(update=update)
            record = record.model_copy(update={"result": self._result(record, run, state)})
            self._runs.pop(record.experiment_id, None)
        else:
            record = record.model_copy(update=update)
        self._save(record)
        return record

    def _residues(self, record: _Record, run: _Run) -> list[float]:
        """Per arm, its users' mean satisfaction minus control's at the end (carry-over)."""
        ctrl = float(run.cohorts[record.spec.control.name].satisfaction.mean())
        return [float(run.cohorts[a.name].satisfaction.mean()) - ctrl for a in record.spec.arms]

    def _result(self, record: _Record, run: _Run, state: ExperimentState) -> ExperimentResult:
        spec = record.spec
        metrics = judged_metrics(spec)
        notes = [] if run.day > 0 else ["no experiment day has run yet"]
        if not any(isinstance(m, MetricSpec) for m in metrics):
            notes.append(
                f"{spec.task!r} is not a shipped task and the spec sends metric names only: "
                "no guardrail was monitored or judged (send metric_specs)"
            )
        if record.abort_reason:
            notes.append(f"experiment aborted: {record.abort_reason}")
        return build_result(
            record.experiment_id,
            spec.task,
            state,
            run.day,
            self._arm_data(record, run, spec.control.name),
            [self._arm_data(record, run, a.name) for a in spec.treatments],
            metrics,
            guardrail_alpha=self.verdict_alpha,
            notes=notes,
            assigned={
                a.name: sum(self._daily_enrolled(run.cohorts[a.name], run.day))
                for a in spec.arms
            }
            if run.day > 0
            else run.assigned,
        )

