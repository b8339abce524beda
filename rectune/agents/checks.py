"""The Critic's code checks: everything decidable without judgement, run before any model.

A proposal reaches the LLM critique (and later the platform) only if it parses, names known
parameters with values of the right type inside the hard bounds, stays inside the soft bounds,
obeys the learned rules, does not repeat a tested configuration, and carries no text that
tries to instruct the reviewer. The one exception to "no repeats" is a confirmation proposal
(source "confirm", set by the Actor from the engine's launch recommendation, never by a
model): one per round may re-test a configuration that was tested and did not fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rectune.domain import ConfigError, apply_delta, config_diff, config_key
from rectune.skillhub.model import Skill

__all__ = ["MAX_TEXT", "Verdict", "check_proposals", "looks_like_injection"]

MAX_TEXT = 2000
"""Longest hypothesis or explanation kept; longer text is cut and the cut is reported."""

_INJECTION = re.compile(
    r"ignore (all |any )?(previous|prior|above) (instructions|rules)|disregard .{0,20}instructions"
    r"|system prompt|you (must|should) (approve|select|launch)|auto-?approve"
    r"|skip (the )?(review|critic)"
    r"|</?(system|instructions?)>|override (the )?(bounds|guardrails?|rules)",
    re.I,
)

Verdict = dict[str, Any]
"""``{"index", "source", "delta", "config", "kept", "reasons", "hypothesis", "explanation"}``."""


def looks_like_injection(text: str) -> bool:
    """Whether free text tries to instruct the reviewer or the system."""
    return bool(_INJECTION.search(text or ""))


def check_proposals(
    proposals: Iterable[Mapping[str, Any]],
    skill: Skill,
    *,
    tested_keys: set[str],
    failed_keys: set[str],
) -> list[Verdict]:
    """Run the code checks on raw proposals, in order; later duplicates of earlier ones fail."""
    verdicts: list[Verdict] = []
    seen: set[str] = set()
    confirmations = 0
    baseline_key = config_key(skill.baseline)
    constraints = [r.constraint for r in skill.active_rules if r.constraint is not None]
    for i, p in enumerate(proposals):
        reasons: list[str] = []
        hypothesis = str(p.get("hypothesis", "") or "")
        explanation = str(p.get("explanation", "") or "")
        v: Verdict = {
            "index": i,
            "source": str(p.get("source", "engine")),
            "delta": p.get("delta"),
            "config": None,
            "kept": False,
            "reasons": reasons,
            "hypothesis": hypothesis[:MAX_TEXT],
            "explanation": explanation[:MAX_TEXT],
        }
        verdicts.append(v)
        delta = p.get("delta")
        if not isinstance(delta, Mapping) or not delta:
            reasons.append("no parameter changes (delta must be a non-empty object)")
            continue
        try:
            config = apply_delta(skill.space, skill.baseline, delta)
        except ConfigError as exc:
            reasons.append(str(exc))
            continue
        v["config"] = config
        v["delta"] = config_diff(skill.baseline, config)
        soft = skill.space.soft_violations(config)
        if soft:
            reasons.append(f"outside the soft bounds for {soft}")
        broken = [str(c) for c in constraints if not c.satisfied(config)]
        if broken:
            reasons.append(f"breaks learned rule(s): {'; '.join(broken)}")
        key = config_key(config)
        if key == baseline_key or not v["delta"]:
            reasons.append("identical to the production configuration")
        elif key in failed_keys:
            reasons.append("repeats a configuration that already failed a guardrail")
        elif key in tested_keys and not (v["source"] == "confirm" and confirmations == 0):
            reasons.append("repeats a configuration that was already tested")
        elif key in seen:
            reasons.append("duplicates another proposal of this round")
        if looks_like_injection(hypothesis) or looks_like_injection(explanation):
            reasons.append("its text tries to instruct the reviewer; proposals must only argue")
        if len(hypothesis) > MAX_TEXT or len(explanation) > MAX_TEXT:
            v.setdefault("notes", []).append(f"text cut to {MAX_TEXT} characters")
        seen.add(key)
        v["kept"] = not reasons
        if v["source"] == "confirm":
            confirmations += 1
    return verdicts
