"""The Critic's code checks: everything decidable without judgement, run before any model.

A draft reaches the model critique (and later the platform) only if it parses, names known
parameters with values of the right type inside the hard bounds, stays inside the soft bounds,
obeys the learned rules, does not repeat a tested configuration, and carries no text that
tries to instruct the reviewer. The one exception to "no repeats" is a confirmation draft
(source "confirm", set from the engine's launch advice, never by a model): one per round - or
every arm of a round that decides the launch - may re-test a configuration that was tested and
did not fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from rectune.domain import (
    ConfigError,
    Draft,
    RuleConstraint,
    SearchSpace,
    Verdict,
    apply_delta,
    config_diff,
    config_key,
)
from rectune.domain.configs import Config

__all__ = ["MAX_TEXT", "check_drafts", "looks_like_injection"]

MAX_TEXT = 2000
"""Longest hypothesis or explanation kept; longer text is cut and the cut is noted."""

_INJECTION = re.compile(
    r"ignore (all |any )?(previous|prior|above) (instructions|rules)|disregard .{0,20}instructions"
    r"|system prompt|you (must|should) (approve|select|launch)|auto-?approve"
    r"|skip (the )?(review|critic)"
    r"|</?(system|instructions?)>|override (the )?(bounds|guardrails?|rules)",
    re.I,
)


def looks_like_injection(text: str) -> bool:
    """Whether free text tries to instruct the reviewer or the system."""
    return bool(_INJECTION.search(text or ""))


def check_drafts(
    drafts: Iterable[Draft],
    *,
    space: SearchSpace,
    baseline: Config,
    constraints: Sequence[RuleConstraint],
    tested_keys: set[str],
    failed_keys: set[str],
    deterministic: Callable[[Config], list[str]] | None = None,
    repeats: int = 1,
) -> list[Verdict]:
    """Run the code checks on drafts, in order; later duplicates of earlier ones fail.

    `deterministic` names the guardrails a configuration breaks for certain (the skill
    declares how they follow from knobs, e.g. serving cost from the candidate cut): such a
    draft would be stopped by the platform at once, so it never reaches a person.
    `repeats` confirmation drafts may re-test tested configurations (one per round, or every
    arm of a round that decides the launch).

    Example:
        >>> from rectune.domain import FloatParameter
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> v = check_drafts([Draft(delta={"w": 9})], space=space, baseline={"w": 1.0},
        ...                  constraints=[], tested_keys=set(), failed_keys=set())[0]
        >>> v.kept, v.reasons[0].startswith("field 'w'")
        (False, True)
    """
    verdicts: list[Verdict] = []
    seen: set[str] = set()
    confirmations = 0
    baseline_key = config_key(baseline)
    for i, draft in enumerate(drafts):
        reasons: list[str] = []
        notes: list[str] = []
        if len(draft.hypothesis) > MAX_TEXT or len(draft.explanation) > MAX_TEXT:
            notes.append(f"text cut to {MAX_TEXT} characters")
        shown = draft.model_copy(
            update={
                "hypothesis": draft.hypothesis[:MAX_TEXT],
                "explanation": draft.explanation[:MAX_TEXT],
            }
        )
        if not isinstance(draft.delta, Mapping) or not draft.delta:
            reasons.append("no parameter changes (delta must be a non-empty object)")
            verdicts.append(Verdict(index=i, draft=shown, delta=dict(draft.delta), reasons=reasons))
            continue
        try:
            config = apply_delta(space, baseline, draft.delta)
        except ConfigError as exc:
            reasons.append(str(exc))
            verdicts.append(Verdict(index=i, draft=shown, delta=dict(draft.delta), reasons=reasons))
            continue
        delta = config_diff(baseline, config)
        soft = space.soft_violations(config)
        if soft:
            reasons.append(f"outside the soft bounds for {soft}")
        broken = [str(c) for c in constraints if not c.satisfied(config)]
        if broken:
            reasons.append(f"breaks learned rule(s): {'; '.join(broken)}")
        certain = deterministic(config) if deterministic is not None else []
        if certain:
            reasons.append(f"breaks a guardrail for certain: {'; '.join(certain)}")
        key = config_key(config)
        if key == baseline_key or not delta:
            reasons.append("identical to the production configuration")
        elif key in failed_keys:
            reasons.append("repeats a configuration that already failed a guardrail")
        elif key in tested_keys and not (draft.source == "confirm" and confirmations < repeats):
            reasons.append("repeats a configuration that was already tested")
        elif key in seen:
            reasons.append("duplicates another proposal of this round")
        if looks_like_injection(draft.hypothesis) or looks_like_injection(draft.explanation):
            reasons.append("its text tries to instruct the reviewer; proposals must only argue")
        seen.add(key)
        if draft.source == "confirm":
            confirmations += 1
        verdicts.append(
            Verdict(
                index=i,
                draft=shown,
                delta=delta,
                config=config,
                kept=not reasons,
                reasons=reasons,
                notes=notes,
            )
        )
    return verdicts
