"""Run settings: the graph's `Context` and where its defaults come from.

Explicit arguments win; a field left at its default is filled from the environment variable
``RECTUNE_<FIELD>`` when that is set. Model fields set to ``None`` mean "use the offline engine".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

from rectune.domain.errors import SpecError

__all__ = ["DEFAULT_GEMINI_MODEL", "ROLES", "Context"]

DEFAULT_GEMINI_MODEL = "google_genai:gemini-2.5-pro"
"""Model used by every role when GOOGLE_API_KEY is set and no model is named."""

ROLES = ("actor", "critic", "insight", "skill")
"""The agent roles that may each use their own model."""

ApprovalMode = Literal["interrupt", "auto"]

DEFAULT_RISK_THRESHOLD = 0.5
"""The Critic vetoes a candidate whose guardrail breach is more likely than not."""

OFFLINE = ("offline", "none", "")
"""Model spellings that force the offline engine even when GOOGLE_API_KEY is set."""


def _desc(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(kw_only=True)
class Context:
    """Settings of one tuning run; LangGraph Studio shows these fields as a form.

    Example:
        >>> ctx = Context(workspace="ws", proposals_per_round=6, arms_per_ab=3)
        >>> ctx.model_for("actor") is None
        True
    """

    workspace: str = field(
        default=".",
        metadata=_desc(
            "Workspace directory (skills, journal, index, checkpoints); create one with "
            "`rectune init DIR`."
        ),
    )
    model: str | None = field(
        default=None,
        metadata=_desc("Default 'provider:model' for every role; empty means the offline engine."),
    )
    actor_model: str | None = field(
        default=None, metadata=_desc("Model of the Actor; falls back to `model`.")
    )
    critic_model: str | None = field(
        default=None, metadata=_desc("Model of the Critic; falls back to `model`.")
    )
    insight_model: str | None = field(
        default=None, metadata=_desc("Model of the Insight agent; falls back to `model`.")
    )
    skill_model: str | None = field(
        default=None, metadata=_desc("Model of the Skill agent; falls back to `model`.")
    )
    proposals_per_round: int = field(
        default=8, metadata=_desc("Candidates the Actor proposes per round (N).")
    )
    arms_per_ab: int = field(default=4, metadata=_desc("Treatment arms per A/B test (K)."))
    critic_loop_cap: int = field(
        default=3, metadata=_desc("Max Actor<->Critic iterations per round.")
    )
    approval_mode: ApprovalMode = field(
        default="interrupt",
        metadata=_desc("'interrupt' waits for a person; 'auto' approves what the Critic keeps."),
    )
    traffic_per_arm: float | None = field(
        default=None, metadata=_desc("Traffic fraction per arm; empty = the skill's default.")
    )
    days: int | None = field(
        default=None,
        metadata=_desc("A/B duration in days; empty = power analysis / skill default."),
    )
    single_agent: bool = field(
        default=False, metadata=_desc("Ablation: skip the Critic's selection.")
    )
    llm_share: float = field(
        default=0.5, metadata=_desc("Hybrid mode: max share of arms taken from LLM proposals.")
    )
    confirm_launch: bool = field(
        default=True,
        metadata=_desc(
            "Spend one arm of the round on re-testing the launch recommendation while its "
            "evidence is weak (one noisy arm that looks best is where the winner's curse bites)."
        ),
    )
    decision_round: bool = field(
        default=False,
        metadata=_desc(
            "The last round before shipping: spend its arms on re-testing the leading tested "
            "configurations side by side, so the launch rests on more than one noisy arm each."
        ),
    )
    risk_threshold: float = field(
        default=DEFAULT_RISK_THRESHOLD,
        metadata=_desc("Critic drops candidates whose guardrail-breach probability exceeds this."),
    )
    steering: str = field(
        default="",
        metadata=_desc("Free-text instruction from a person, carried into the Actor's prompt."),
    )
    platform: str = field(
        default="sim",
        metadata=_desc(
            "'sim' (embedded simulator) or 'files:DIR' (file hand-off; a relative DIR is "
            "inside the workspace)."
        ),
    )
    seed: int = field(
        default=0, metadata=_desc("Seed of the simulator world and of the engine's randomness.")
    )
    poll_days: int = field(
        default=0,
        metadata=_desc(
            "Simulator only: virtual days that pass per status poll; "
            "0 runs a test to the end at once."
        ),
    )
    storage: str = field(
        default="local",
        metadata=_desc(
            "Where the journal, skill versions, thread records and checkpoints live: 'local' "
            "(the workspace's files and SQLite) or a postgresql:// URL shared by every worker."
        ),
    )
    poll_interval: float | None = field(
        default=None,
        metadata=_desc(
            "Seconds between status polls while a caller waits for a running test; empty = "
            "the platform's default (0 for the simulator, 60 for a file hand-off)."
        ),
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            env = os.environ.get(f"RECTUNE_{f.name.upper()}")
            if env is not None and getattr(self, f.name) == f.default:
                setattr(self, f.name, _parse_env(f.name, f.type, env))
        if self.model is None and os.environ.get("GOOGLE_API_KEY"):
            self.model = DEFAULT_GEMINI_MODEL
        self._validate()

    def _validate(self) -> None:
        def bad(name: str, allowed: str) -> SpecError:
            return SpecError(
                f"setting {name}={getattr(self, name)!r} is not allowed; allowed: {allowed}"
            )

        for name in ("proposals_per_round", "arms_per_ab", "critic_loop_cap"):
            if getattr(self, name) < 1:
                raise bad(name, "an integer >= 1")
        if self.arms_per_ab > self.proposals_per_round:
            raise bad("arms_per_ab", f"at most proposals_per_round ({self.proposals_per_round})")
        if self.approval_mode not in get_args(ApprovalMode):
            raise bad("approval_mode", "'interrupt' or 'auto'")
        if self.traffic_per_arm is not None and not 0 < self.traffic_per_arm <= 0.5:
            raise bad("traffic_per_arm", "a fraction in (0, 0.5]")
        if self.days is not None and self.days < 1:
            raise bad("days", "an integer >= 1")
        if not 0 <= self.llm_share <= 1:
            raise bad("llm_share", "a fraction in [0, 1]")
        if not 0 < self.risk_threshold <= 1:
            raise bad("risk_threshold", "a probability in (0, 1]")
        if not (
            self.platform == "sim"
            or (self.platform.startswith("files:") and len(self.platform) > len("files:"))
            or self.platform.startswith("instance:platform:")
        ):
            raise bad("platform", "'sim' or 'files:DIR'")
        if self.poll_days < 0:
            raise bad("poll_days", "an integer >= 0")
        if self.poll_interval is not None and not self.poll_interval >= 0:
            raise bad("poll_interval", "a number of seconds >= 0")
        from rectune.storage.settings import StorageError, parse_storage

        try:
            self.storage = parse_storage(self.storage)
        except StorageError as exc:
            raise SpecError(f"setting {exc}") from None
        if not 0 <= self.seed < 2**32:
            raise bad("seed", "an integer in [0, 2**32)")
        for role in ROLES:
            spec = self.model_for(role)
            if spec is not None and ":" not in spec and not spec.startswith("instance:"):
                raise bad(
                    f"{role}_model" if getattr(self, f"{role}_model") else "model",
                    "a 'provider:model' string such as 'google_genai:gemini-2.5-pro'",
                )

    def model_for(self, role: str) -> str | None:
        """The model spec of `role`, falling back to `model`; None means the offline engine."""
        if role not in ROLES:
            raise SpecError(f"unknown role {role!r}; allowed: {list(ROLES)}")
        specific: str | None = getattr(self, f"{role}_model")
        spec = specific or self.model or None
        return None if spec in OFFLINE else spec


def _parse_env(name: str, typ: Any, raw: str) -> Any:
    t = str(typ)
    try:
        if "bool" in t:
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if "int" in t and "float" not in t:
            return int(raw) if raw else None
        if "float" in t:
            return float(raw) if raw else None
    except ValueError:
        raise SpecError(
            f"environment variable RECTUNE_{name.upper()}={raw!r} does not parse as {t}"
        ) from None
    return raw or None if "None" in t else raw
