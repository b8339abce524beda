"""The ``rectune-graph`` benchmark method: the real compiled round graph, round by round.

The ``rectune`` method (`rectune.bench.methods.EngineMethod`) calls the round policy directly,
which is fast enough for many seeds. This method checks that shortcut: each round it runs the
graph of `rectune.graph.compile_graph` - load_context, actor, critic, plan, approve, launch,
monitor, record, insight, skill - with an in-memory checkpointer, the offline engine as the
reasoner (no model) and a throw-away workspace holding the shipped skills and its own journal.

- `ask` starts a round and stops at the approval interrupt; the candidates the graph's Critic
  selected (and wrote to the journal) are the arms the benchmark tests.
- `tell` hands the benchmark's measurements to `BenchPlatform`, answers the interrupt with
  "approve" (what an approving reviewer sends) and lets the graph finish its round: launch,
  results, the journal's record, the insight and skill steps. The next round's graph reads its
  history from that journal, as a real deployment does.
- `launch` is the launch advice the graph's record step computed.

Nothing in the graph is replaced: the only stand-in is the A/B platform, whose numbers are the
benchmark's own simulator runs of exactly the arms the graph launched.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rectune.domain import (
    Config,
    ExperimentResult,
    ExperimentSpec,
    ExperimentState,
    SpecError,
    config_key,
)
from rectune.tools.platform import ExperimentNotFoundError, ExperimentStatus

if TYPE_CHECKING:
    from rectune.bench.methods import ArmOutcome
    from rectune.config import Context
    from rectune.optimizers import TuningProblem

__all__ = ["BenchPlatform", "GraphMethod"]

_ids = itertools.count(1)


@dataclass
class BenchPlatform:
    """An A/B platform whose measurements are the benchmark's `ArmOutcome`s.

    The benchmark measures the arms between `GraphMethod.ask` and `GraphMethod.tell`; `tell`
    puts them here (`provide`) before the graph launches, so the launch finds each treatment's
    result by its configuration. A treatment without a measurement is an error, never a made-up
    number.

    Attributes:
        task: The task every experiment must be of.
        pending: Measured arms by configuration key, waiting for the graph's launch.
        experiments: Experiment id -> (spec, result).
    """

    task: str
    pending: dict[str, ArmOutcome] = field(default_factory=dict)
    experiments: dict[str, tuple[ExperimentSpec, ExperimentResult]] = field(
        default_factory=dict
    )
    by_key: dict[str, str] = field(default_factory=dict)

    def provide(self, outcomes: Sequence[ArmOutcome]) -> None:
        """The measurements of the arms the next launch will carry."""
        self.pending = {config_key(o.config): o for o in outcomes}

    def launch(self, spec: ExperimentSpec, idempotency_key: str) -> str:
        """Attach the pending measurements to the spec's treatments (once per key).

        Raises:
            SpecError: for another task, or a treatment the benchmark did not measure.
        """
        if idempotency_key in self.by_key:
            return self.by_key[idempotency_key]
        if spec.task != self.task:
            raise SpecError(f"experiment task {spec.task!r}: this platform runs {self.task!r}")
        arms = []
        for arm in spec.treatments:
            outcome = self.pending.get(config_key(arm.config))
            if outcome is None:
                raise SpecError(
                    f"arm {arm.name} ({arm.candidate_id}): the benchmark measured no arm with "
                    "this configuration; the graph launched something it did not select"
                )
            labels = {"arm": arm.name, "candidate_id": arm.candidate_id}
            arms.append(outcome.result.model_copy(update=labels))
        experiment_id = f"bench-{next(_ids)}"
        days = max([spec.days, *(a.days_run for a in arms)])
        result = ExperimentResult(
            experiment_id=experiment_id,
            task=spec.task,
            state=ExperimentState.COMPLETED,
            days_run=days,
            arms=arms,
        )
        self.experiments[experiment_id] = (spec, result)
        self.by_key[idempotency_key] = experiment_id
        self.pending = {}
        return experiment_id

    def _get(self, experiment_id: str) -> tuple[ExperimentSpec, ExperimentResult]:
        try:
            return self.experiments[experiment_id]
        except KeyError:
            raise ExperimentNotFoundError(f"no experiment {experiment_id!r}") from None

    def status(self, experiment_id: str) -> ExperimentStatus:
        """Finished at once: the benchmark measured the arms before the launch."""
        spec, result = self._get(experiment_id)
        return ExperimentStatus(
            experiment_id=experiment_id,
            task=spec.task,
            state=result.state,
            days_run=result.days_run,
            days_total=spec.days,
            aborted_arms={a.arm: a.abort_reason or "aborted" for a in result.arms if a.aborted},
        )

    def results(self, experiment_id: str) -> ExperimentResult:
        """The measured arms, labelled with the spec's arm names and candidate ids."""
        return self._get(experiment_id)[1]

    def abort(self, experiment_id: str, reason: str) -> ExperimentStatus:
        """Nothing to stop: every experiment is finished when it starts."""
        return self.status(experiment_id)


@dataclass
class GraphMethod:
    """rectune played through the compiled round graph (see the module docstring).

    The run's settings are those of ``rectune``'s `EngineMethod`: the same seed (the graph's
    Actor derives each pass's seed from ``Context.seed``, the round number and the pass, as
    `rectune.round.policy.choose` does), K arms, ``proposals_per_arm * K`` drafts per pass, the
    graph's default risk threshold, LLM share, confirmation arm and Actor/Critic cap.

    Attributes:
        problem: The task (a shipped skill: the graph reads the skill from its workspace).
        seed: Seed of the run.
        k: Arms per round.
        proposals_per_arm: Engine drafts per arm to test.
        loop_cap: Actor/Critic passes per round.
        name: Method name.
        rounds: The run's round budget; the last round runs with ``decision_round``.
    """

    problem: TuningProblem
    seed: int
    k: int
    proposals_per_arm: int = 2
    loop_cap: int = 3
    name: str = "rectune-graph"
    rounds: int | None = None
    round: int = 0
    last_round: Any = None
    _tmp: Any = field(default=None, repr=False)
    _ctx: Any = field(default=None, repr=False)
    _graph: Any = field(default=None, repr=False)
    _platform: BenchPlatform | None = field(default=None, repr=False)
    _thread: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        from rectune.graph import compile_graph
        from rectune.ports.instances import register
        from rectune.skillhub import SkillHub
        from rectune.workspace import init_workspace

        self._tmp = tempfile.TemporaryDirectory(prefix="rectune-graph-")
        ws = init_workspace(Path(self._tmp.name) / "ws")
        if self.problem.task not in SkillHub(ws.skills).names():
            raise ValueError(
                f"method {self.name!r} runs the round graph on a skill; task "
                f"{self.problem.task!r} is not a shipped skill (synthetic tasks have none)"
            )
        self._platform = BenchPlatform(self.problem.task)
        self._ctx = _context(
            str(ws.root),
            platform=register(self._platform, "platform"),
            seed=self.seed,
            k=self.k,
            proposals=max(self.k * self.proposals_per_arm, self.k),
            loop_cap=self.loop_cap,
        )
        self._graph = compile_graph(InMemorySaver())

    def _config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": self._thread}}

    def ask(self, k: int) -> list[Config]:
        """Run the graph's next round up to its approval; the Critic's selected configs.

        Raises:
            ValueError: when `k` is not the K the method was built for.
        """
        from rectune.round.codec import decode

        if k != self.k:
            raise ValueError(f"{self.name}: built for k={self.k} arms, asked for k={k}")
        self.round += 1
        self._thread = f"bench-{self.problem.task}-s{self.seed}-r{self.round}"
        self._ctx.decision_round = self.rounds is not None and self.round >= self.rounds
        self._graph.invoke({"task": self.problem.task}, self._config(), context=self._ctx)
        snap = self._graph.get_state(self._config())
        data = decode(snap.values)
        self.last_round = data
        if not snap.interrupts:  # the round ended without candidates (nothing passed)
            self._thread = None
            return []
        pending = snap.interrupts[0].value
        if not isinstance(pending, dict) or pending.get("kind") != "approval":
            raise RuntimeError(f"{self.name}: the graph paused for {pending!r}, not approval")
        return [dict(c.config) for c in data.candidates]

    def tell(self, outcomes: Sequence[ArmOutcome]) -> None:
        """Approve the round's candidates and let the graph finish it on the measured arms."""
        from langgraph.types import Command

        from rectune.round.codec import decode

        if self._thread is None:
            return
        assert self._platform is not None
        self._platform.provide(outcomes)
        answer: Any = "approve"
        if not outcomes:
            answer = "reject"
        self._graph.invoke(Command(resume=answer), self._config(), context=self._ctx)
        snap = self._graph.get_state(self._config())
        if snap.interrupts or snap.next:
            raise RuntimeError(
                f"{self.name}: round {self.round} did not finish (next: {snap.next})"
            )
        self.last_round = decode(snap.values)
        if self.last_round.error:
            raise RuntimeError(f"{self.name}: round {self.round}: {self.last_round.error}")

    def launch(self) -> Config:
        """The launch advice of the graph's last record step (production before any)."""
        advice = self.last_round.recommendation if self.last_round is not None else None
        if advice is None:
            return dict(self.problem.baseline)
        return dict(advice.config)

    def close(self) -> None:
        """Remove the throw-away workspace."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _context(
    workspace: str, *, platform: str, seed: int, k: int, proposals: int, loop_cap: int
) -> Context:
    """The run's settings: the graph's defaults (risk threshold, LLM share, confirmation arm,
    no model) but for what the benchmark fixes. Every field is set after construction, so no
    ``RECTUNE_*`` variable of the shell changes them (the Context fills fields left at their
    default from the environment)."""
    from dataclasses import MISSING, fields

    from rectune.config import Context

    ctx = Context(workspace=workspace, model="offline")
    for f in fields(Context):
        if f.default is not MISSING:
            setattr(ctx, f.name, f.default)
    given: dict[str, Any] = {
        "workspace": workspace,
        "model": "offline",
        "platform": platform,
        "seed": seed,
        "arms_per_ab": k,
        "proposals_per_round": proposals,
        "critic_loop_cap": loop_cap,
        "approval_mode": "interrupt",
    }
    for name, value in given.items():
        setattr(ctx, name, value)
    ctx._validate()
    return ctx
