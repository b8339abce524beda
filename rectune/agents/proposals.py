"""Parsing the Actor's answers: structured output first, the XML proposal format as fallback.

Parsing never validates values against the search space (the Critic's code checks do that);
it only turns text into `Draft`s or says precisely why it could not.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from rectune.domain import Draft
from rectune.domain.errors import RecTuneError

__all__ = [
    "ParamChange",
    "ProposalBatch",
    "ProposalOut",
    "ProposalParseError",
    "parse_xml_proposals",
]


class ProposalParseError(RecTuneError):
    """The model's answer held no usable proposal."""


class ParamChange(BaseModel):
    """One changed parameter (a list of these avoids free-form maps, which some providers
    cannot express in structured output)."""

    name: str = Field(description="parameter name, exactly as listed in the task")
    value: float | str = Field(description="new value; numbers for numeric parameters")


class ProposalOut(BaseModel):
    """One proposal as the model returns it."""

    hypothesis: str = Field(description="what you expect to happen to the metrics and why")
    changes: list[ParamChange] = Field(description="only the parameters you change")
    explanation: str = Field(default="", description="reasoning for each parameter shift")


class ProposalBatch(BaseModel):
    """The Actor's structured answer."""

    proposals: list[ProposalOut]

    def to_drafts(self, source: str = "llm") -> list[Draft]:
        """Drafts with deltas as dicts (ints kept as ints when integral)."""
        return [
            Draft(
                hypothesis=p.hypothesis,
                explanation=p.explanation,
                delta={ch.name: _number_or_text(ch.value) for ch in p.changes},
                source=source,
            )
            for p in self.proposals
        ]


_BLOCK = re.compile(r"<proposal\b[^>]*>(.*?)</proposal\s*>", re.S | re.I)
_PARAM = re.compile(r"<param\s+name\s*=\s*[\"']([^\"']+)[\"']\s*>(.*?)</param\s*>", re.S | re.I)


def _tag(block: str, name: str) -> str | None:
    m = re.search(rf"<{name}\b[^>]*>(.*?)</{name}\s*>", block, re.S | re.I)
    return m.group(1).strip() if m else None


def _number_or_text(value: Any) -> Any:
    if isinstance(value, str):
        s = value.strip()
        try:
            f = float(s)
        except ValueError:
            return s
        return int(f) if re.fullmatch(r"[+-]?\d+", s) else f
    if isinstance(value, float) and value.is_integer():
        return value  # an int parameter accepts integral floats; keep the type honest
    return value


def parse_xml_proposals(text: str, source: str = "llm") -> list[Draft]:
    """Parse the XML proposal format, tolerating code fences and surrounding prose.

    The format is::

        <proposal>
          <hypothesis>...</hypothesis>
          <delta>{"param": value, ...}</delta>      (or <param name="x">v</param> lines)
          <explanation>...</explanation>
        </proposal>

    Raises:
        ProposalParseError: when no block parses, with the reason for each failed block.

    Example:
        >>> parse_xml_proposals('<proposal><hypothesis>h</hypothesis>'
        ...                     '<delta>{"a": 1.5}</delta></proposal>')[0].delta
        {'a': 1.5}
    """
    blocks = _BLOCK.findall(text or "")
    if not blocks:
        raise ProposalParseError("the answer contains no <proposal>...</proposal> block")
    out: list[Draft] = []
    problems: list[str] = []
    for i, block in enumerate(blocks, 1):
        delta: dict[str, Any] = {}
        raw_delta = _tag(block, "delta") or _tag(block, "config")
        if raw_delta:
            raw_delta = re.sub(r"^```(?:json)?|```$", "", raw_delta.strip()).strip()
            try:
                parsed = json.loads(raw_delta)
            except json.JSONDecodeError as exc:
                problems.append(f"proposal {i}: <delta> is not valid JSON ({exc.msg})")
                continue
            if not isinstance(parsed, dict):
                problems.append(f"proposal {i}: <delta> must be a JSON object")
                continue
            delta = {str(k): _number_or_text(v) for k, v in parsed.items()}
        for name, value in _PARAM.findall(block):
            delta[name.strip()] = _number_or_text(value)
        if not delta:
            problems.append(f"proposal {i}: no <delta> or <param> changes")
            continue
        out.append(
            Draft(
                hypothesis=_tag(block, "hypothesis") or "",
                explanation=_tag(block, "explanation") or "",
                delta=delta,
                source=source,
            )
        )
    if not out:
        raise ProposalParseError("; ".join(problems))
    return out
