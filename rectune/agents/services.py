"""What the nodes use from the rest of rectune, built from the run's Context.

The nodes stay thin: they read state, call these services and return updates. The services
only adapt the skillhub, memory, optimizers and platform packages to the graph's needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from rectune.agents.models import resolve_model
from rectune.agents.registry import lookup
from rectune.config import Context
from rectune.domain import Candidate, CandidateStatus, LearnedRule, RecTuneError, config_key
from rectune.memory.elites import select_elites
from rectune.memory.history import history_view
from rectune.memory.journal import Journal, RoundRecord
from rectune.optimizers import Engine, Observation, TuningProblem, constraints_from_rules
from rectune.optimizers.proposer import describe_delta
from rectune.skillhub.hub import SkillHub
from rectune.skillhub.model import Skill
from rectune.skillhub.render import render_platform_config

__all__ = ["Services", "services"]

MAX_ELITES = 8
HISTORY_BUDGET = 8000


@lru_cache(maxsize=32)
def _engine(workspace: str, risk_threshold: float, llm_share: float) -> Engine:
    return Engine(risk_threshold=risk_threshold, llm_share=llm_share)


@lru_cache(maxsize=8)
def _sim_platform(state_dir: str, seed: int, poll_days: int) -> Any:
    from rectune.tools.simulated import SimulatedABPlatform

    return SimulatedABPlatform(
        state_dir=Path(state_dir), seed=seed, days_per_poll=poll_days or None
    )


class Services:
    """Adapters over one workspace for one run."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.root = Path(ctx.workspace)
        self.hub = SkillHub.in_workspace(self.root, install=False)
        self.journal = Journal.in_workspace(self.root)
        self.engine = _engine(str(self.root.resolve()), ctx.risk_threshold, ctx.llm_share)

    # ------------------------------------------------------------- skills & models

    def skill(self, task: str) -> Skill:
        """The active skill of `task`."""
        return self.hub.get(task)

    def model(self, role: str) -> BaseChatModel | None:
        """The chat model of `role`, or None for the offline engine."""
        spec = self.ctx.model_for(role)
        if spec is None:
            return None
        if spec.startswith("instance:"):
            obj: BaseChatModel = lookup(spec)
            return obj
        return resolve_model(spec)

    # ------------------------------------------------------------- journal

    def candidates(self, task: str) -> list[Candidate]:
        """Every candidate in the task's journal."""
        return self.journal.candidates(task)

    def next_round(self, task: str) -> int:
        """One past the highest round in the journal."""
        rounds = [c.round for c in self.journal.candidates(task)]
        rounds += [r.round for r in self.journal.rounds(task)]
        return max(rounds, default=0) + 1

    def upsert(self, task: str, candidates: Sequence[Candidate]) -> None:
        """Insert or replace candidates by id (node re-runs write the same records)."""
        if not candidates:
            return
        with self.journal.edit(task) as doc:
            index = {c.id: i for i, c in enumerate(doc.candidates)}
            for c in candidates:
                if c.id in index:
                    doc.candidates[index[c.id]] = c
                else:
                    index[c.id] = len(doc.candidates)
                    doc.candidates.append(c)

    def record_results(self, task: str, results: Any) -> None:
        """Store an experiment's results; candidates move to COMPLETED or ABORTED."""
        self.journal.record_results(task, results)

    def record_round(self, task: str, info: dict[str, Any]) -> None:
        """Add or replace the round's record."""
        notes = [f"status: {info.get('status')}"]
        if info.get("error"):
            notes.append(f"error: {info['error']}")
        notes += [
            f"decision {d.get('id')}: {d.get('action')} {d.get('note', '')}".strip()
            for d in info.get("decisions", [])
        ]
        if info.get("skill_version") is not None:
            notes.append(f"skill version: {info['skill_version']}")
        self.journal.record_round(
            task,
            RoundRecord(
                round=info["round"],
                steering=info.get("steering") or "",
                candidate_ids=info.get("candidate_ids", []),
                experiment_id=info.get("experiment_id"),
                token_usage=info.get("token_usage", {}),
                notes=notes,
            ),
        )

    def tasks_with_history(self) -> list[str]:
        """Tasks with a journal in this workspace that still have an active skill."""
        names = set(self.hub.names())
        return [t for t in self.journal.tasks() if t in names]

    def tested_keys(self, skill: Skill, cands: Sequence[Candidate]) -> tuple[set[str], set[str]]:
        """Keys of configurations already tested (or queued), and of those that failed."""
        sel = select_elites(list(cands), skill.metrics, max_size=MAX_ELITES)
        tested = {config_key(c.config) for c in cands if c.status is not CandidateStatus.REJECTED}
        failed = {
            config_key(c.config) for c in cands if c.id in sel.infeasible and c.result is not None
        }
        failed |= {config_key(c.config) for c in cands if c.status is CandidateStatus.ABORTED}
        return tested, failed

    # ------------------------------------------------------------- memory views

    def elites(self, skill: Skill, cands: Sequence[Candidate]) -> list[Candidate]:
        """The Pareto-elite candidates, diversity-capped."""
        sel = select_elites(list(cands), skill.metrics, max_size=MAX_ELITES)
        by_id = {c.id: c for c in cands}
        return [by_id[i] for i in sel.elite_ids]

    def history_text(
        self, skill: Skill, cands: Sequence[Candidate], elites: Sequence[Candidate]
    ) -> str:
        """The full sorted history, compact, elites marked."""
        sel = select_elites(list(cands), skill.metrics, max_size=MAX_ELITES)
        return history_view(
            list(cands),
            skill.metrics,
            elites=sel,
            baseline=skill.baseline,
            budget_chars=HISTORY_BUDGET,
        ).text

    def retrieve(self, task: str, query: str, k: int = 6) -> list[str]:
        """Snippets from the retrieval index (skills, rules, elite summaries)."""
        from rectune.memory.retrieval import MemoryIndex

        try:
            # Other tasks' rules and elites are the point: the task's own skill is in the prompt.
            hits = MemoryIndex.in_workspace(self.root).query(query, k=k)
            return [f"({h.kind}, {h.task}) {h.text}" for h in hits]
        except Exception as exc:  # the index is derived data: a broken one must not stop a round
            return [f"(retrieval unavailable: {type(exc).__name__})"]

    def reindex(self, task: str) -> None:
        """Refresh the retrieval index for `task` from the skill and the journal."""
        from rectune.memory.retrieval import MemoryIndex

        skill = self.skill(task)
        index = MemoryIndex.in_workspace(self.root)
        index.add_skill(skill)
        index.add_elites(skill, self.candidates(task), max_size=MAX_ELITES)

    # ------------------------------------------------------------- engine

    def problem(self, skill: Skill) -> TuningProblem:
        """The engine's view of the task."""
        return TuningProblem(
            task=skill.name,
            space=skill.space,
            metrics=skill.metrics,
            baseline=dict(skill.baseline),
            constraints=constraints_from_rules(skill.learned_rules),
        )

    def observations(self, skill: Skill, cands: Sequence[Candidate]) -> list[Observation]:
        """Tested arms of the journal as engine observations."""
        out = []
        for c in cands:
            if c.result is None or not c.result.metrics:
                continue
            try:
                out.append(Observation.from_arm_result(dict(c.config), c.result, round=c.round))
            except ValueError:
                continue  # a malformed old record must not stop the engine
        return out

    def has_evidence(self, skill: Skill, cands: Sequence[Candidate]) -> bool:
        """Whether any A/B result exists for the surrogate to learn from."""
        return bool(self.observations(skill, cands))

    def engine_proposals(
        self, skill: Skill, cands: Sequence[Candidate], n: int, *, seed: int
    ) -> list[dict[str, Any]]:
        """`n` engine proposals as raw proposals."""
        problem = self.problem(skill)
        props = self.engine.propose(problem, self.observations(skill, cands), n, seed=seed)
        return [
            {
                "hypothesis": p.hypothesis or describe_delta(skill.baseline, p.config),
                "explanation": p.explanation,
                "delta": dict(p.delta),
                "source": p.source,
            }
            for p in props
        ]

    def confirmation_proposal(
        self, skill: Skill, cands: Sequence[Candidate]
    ) -> dict[str, Any] | None:
        """A raw proposal re-testing the launch recommendation, when the engine asks for one."""
        obs = self.observations(skill, cands)
        if not obs:
            return None
        rec = self.engine.recommend(self.problem(skill), obs)
        if rec.confirmation is None:
            return None
        p = rec.confirmation
        return {
            "hypothesis": p.hypothesis,
            "explanation": p.explanation,
            "delta": dict(p.delta),
            "source": "confirm",
        }

    def surrogate_view(self, skill: Skill, cands: Sequence[Candidate]) -> str:
        """The surrogate's beliefs as prompt text."""
        obs = self.observations(skill, cands)
        if not obs:
            return "No A/B results yet: the model only knows its prior."
        return self.engine.view(self.problem(skill), obs).to_text()

    def assess(
        self, skill: Skill, cands: Sequence[Candidate], configs: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Predicted lifts with intervals and the breach probability of each config."""
        from rectune.optimizers import SurrogateCritic

        problem = self.problem(skill)
        model = self.engine.fit(problem, self.observations(skill, cands))
        critic = SurrogateCritic(model, self.ctx.risk_threshold)
        out = []
        for a in critic.assess(list(configs)):
            out.append(
                {
                    "breach_probability": float(a.p_breach),
                    "objective": float(a.objective),
                    "objective_sd": float(a.objective_sd),
                    "lifts": {
                        k: (float(f.mean), float(f.low), float(f.high))
                        for k, f in a.forecasts.items()
                    },
                }
            )
        return out

    def rank(
        self, skill: Skill, cands: Sequence[Candidate], configs: Sequence[dict[str, Any]], k: int
    ) -> list[tuple[int, str]]:
        """Indices of `configs` in the engine's preferred order, with a justification."""
        problem = self.problem(skill)
        ranking = self.engine.critique(problem, self.observations(skill, cands), list(configs), k)
        keys = [config_key(c) for c in configs]
        out: list[tuple[int, str]] = []
        used: set[int] = set()
        for pos, a in enumerate([*ranking.selected, *ranking.rest]):
            for i, key in enumerate(keys):
                if key == a.key and i not in used:
                    used.add(i)
                    primary = ", ".join(
                        f"{m}: {f.mean:+.2%} [{f.low:+.2%}, {f.high:+.2%}]"
                        for m, f in a.forecasts.items()
                        if m in {x.name for x in problem.primaries}
                    )
                    role = "selected" if pos < len(ranking.selected) else "reserve"
                    out.append(
                        (
                            i,
                            f"engine {role}: predicted {primary}; guardrail-breach "
                            f"risk {a.p_breach:.0%}; chosen for expected value and spread",
                        )
                    )
                    break
        out += [(i, "engine: unranked") for i in range(len(configs)) if i not in used]
        return out

    def recommend(self, skill: Skill, cands: Sequence[Candidate]) -> dict[str, Any]:
        """The launch recommendation as JSON."""
        rec = self.engine.recommend(self.problem(skill), self.observations(skill, cands))
        key = config_key(rec.config)
        cid = next(
            (c.id for c in cands if c.result is not None and config_key(c.config) == key), None
        )
        return {
            "candidate_id": None if rec.is_baseline else cid,
            "config": dict(rec.config),
            "delta": dict(rec.delta),
            "is_baseline": rec.is_baseline,
            "objective": rec.objective,
            "objective_sd": rec.objective_sd,
            "p_better": rec.p_better,
            "p_feasible": rec.p_feasible,
            "reason": rec.reason,
            "summary": (
                f"objective {rec.objective:+.2%} ± {1.96 * rec.objective_sd:.2%}, "
                f"P(better) {rec.p_better:.2f}, P(guardrails hold) {rec.p_feasible:.2f}"
            ),
            "confirmation": rec.confirmation.model_dump(mode="json") if rec.confirmation else None,
        }

    # ------------------------------------------------------------- online

    def ab_plan(self, skill: Skill, arms: int) -> dict[str, Any]:
        """Traffic per arm and duration of the round's A/B test.

        Traffic comes from the Context or the skill. Duration comes from the Context when set;
        otherwise a power analysis on the primary metric (when the platform can estimate its
        noise) picks the shortest duration that detects the skill's minimum detectable effect,
        falling back to the skill's default, and the plan says when the test is underpowered.
        """
        d = skill.ab_defaults
        traffic = self.ctx.traffic_per_arm or d.traffic_per_arm
        if (arms + 1) * traffic > 1.0:
            raise RecTuneError(
                f"traffic_per_arm={traffic} with {arms} arms and a control needs "
                f"{(arms + 1) * traffic:.0%} of traffic; allowed: at most 100%"
            )
        plan: dict[str, Any] = {
            "control": "production",
            "arms": arms,
            "traffic_per_arm": traffic,
            "days": self.ctx.days or d.days,
            "min_detectable_effect": d.min_detectable_effect,
            "alpha": d.alpha,
            "power": d.power,
            "duration_from": "context" if self.ctx.days else "skill default",
        }
        platform = self.platform()
        if hasattr(platform, "baselines"):
            from rectune.tools.platform import minimum_detectable_effect, power_analysis

            primary = skill.primary_metrics[0].name
            base = self._baseline(platform, skill.name, plan["days"], primary)
            users = int(traffic * getattr(platform, "population", 0))
            power = power_analysis(
                base,
                d.min_detectable_effect,
                alpha=d.alpha,
                power=d.power,
                max_traffic_per_arm=traffic,
            )
            users = users or power.users_per_arm
            achievable = minimum_detectable_effect(base, users, alpha=d.alpha, power=d.power)
            plan["power_analysis"] = {
                "metric": primary,
                "days": plan["days"],
                "users_needed_per_arm": power.users_per_arm,
                "users_per_arm": users,
                "powered_for_mde": power.feasible,
                "detectable_effect_at_this_traffic": round(achievable, 5),
            }
        return plan

    def _baseline(self, platform: Any, task: str, days: int, metric: str) -> Any:
        """The platform's noise estimate of `metric`, cached in the workspace (it is
        deterministic per seed and costs a pilot simulation)."""
        import json

        from rectune.skillhub.atomic import atomic_write_text
        from rectune.tools.platform import MetricBaseline

        path = self.root / "platform" / f"baseline-{task}-{days}d-seed{self.ctx.seed}.json"
        if path.exists():
            data = json.loads(path.read_text())
            if metric in data:
                return MetricBaseline.model_validate(data[metric])
        found = platform.baselines(task, days)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            path, json.dumps({k: v.model_dump(mode="json") for k, v in found.items()})
        )
        return found[metric]

    def render(self, skill: Skill, arm: str, config: dict[str, Any], round_no: int) -> str:
        """Render one arm's platform config file into ``<ws>/rendered/<task>/round-<n>/``.

        Returns:
            The path of the written file, relative to the workspace.
        """
        from rectune.skillhub.atomic import atomic_write_text

        r = render_platform_config(skill, config, arm=arm)
        path = self.root / "rendered" / skill.name / f"round-{round_no}" / r.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, r.content)
        return str(path.relative_to(self.root))

    def platform(self) -> Any:
        """The A/B platform of this run."""
        p = self.ctx.platform
        if p == "sim":
            return _sim_platform(
                str((self.root / "platform").resolve()), self.ctx.seed, self.ctx.poll_days
            )
        if p.startswith("files:"):
            from rectune.tools.files import FileHandoffPlatform

            return FileHandoffPlatform(Path(p.removeprefix("files:")))
        return lookup(p)

    # ------------------------------------------------------------- insight & skill

    def findings(self, task: str) -> list[dict[str, Any]]:
        """Deterministic insight findings of one task, JSON-ready."""
        from rectune.memory.insight_stats import analyze_task

        skill = self.skill(task)
        found = analyze_task(
            task, self.candidates(task), skill.space, skill.baseline, skill.metrics
        )
        return [f.model_dump(mode="json") for f in found]

    def cross_task(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Patterns shared across tasks."""
        from rectune.memory.insight_stats import Finding, aggregate_findings

        return [
            f.model_dump(mode="json")
            for f in aggregate_findings([Finding.model_validate(x) for x in findings])
        ]

    def findings_text(self, findings: list[dict[str, Any]], cross: list[dict[str, Any]]) -> str:
        """A plain summary of the findings."""
        lines = [f"- [{f.get('task')}] {f.get('text')}" for f in findings[:30]]
        lines += [f"- [cross-task] {f.get('text')}" for f in cross[:10]]
        return "\n".join(lines) or "No finding is supported by the evidence yet."

    def rules_from_findings(
        self, task: str, findings: list[dict[str, Any]]
    ) -> tuple[list[LearnedRule], dict[str, str]]:
        """Evidence-gated new rules, and rules to retire (id -> reason), for `task`."""
        from rectune.memory.insight_stats import Finding, FindingKind, findings_to_rules

        skill = self.skill(task)
        mine = [
            Finding.model_validate(f)
            for f in findings
            if f.get("task") == task
            or (f.get("kind") == FindingKind.CROSS_TASK.value and task in f.get("tasks", []))
        ]
        new, retire = findings_to_rules(mine, skill.learned_rules, space=skill.space)
        return list(new), dict(retire)

    def apply_rules(
        self, task: str, new: list[LearnedRule], retire: dict[str, str], *, round_no: int
    ) -> str | None:
        """Write the rule changes through the skillhub's invariants; the error text if refused."""
        from rectune.skillhub.errors import SkillError

        try:
            if new:
                self.hub.add_rules(
                    task, new, f"round {round_no}: {len(new)} rule(s) supported by A/B evidence"
                )
            if retire:
                self.hub.retire_rules(
                    task, retire, f"round {round_no}: retire {len(retire)} rule(s)"
                )
        except SkillError as exc:
            return str(exc)
        return None


def services(ctx: Context) -> Services:
    """The services of a run."""
    return Services(ctx)
