"""Parse and validate a SKILL.md: YAML front matter plus Markdown sections.

Errors say which file, which field and what is wrong, with a line number whenever the YAML
tells us where the field sits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from rectune.domain.errors import SpecError
from rectune.domain.metrics import MetricSpec
from rectune.domain.parameters import ParameterSpec, SearchSpace
from rectune.domain.rules import LearnedRule
from rectune.domain.structure import TaskStructure
from rectune.skillhub.errors import SkillValidationError
from rectune.skillhub.model import (
    REQUIRED_SECTIONS,
    ABDefaults,
    PlatformSpec,
    Skill,
    SkillSections,
    SkillStatus,
    skill_problems,
)

__all__ = ["LEARNED_RULES_HEADING", "load_skill", "parse_skill"]

LEARNED_RULES_HEADING = "### Learned rules"
"""Sub-heading of Domain Knowledge that the writer generates from the front matter."""

_REQUIRED_KEYS = ("name", "description", "stage", "parameters", "metrics", "baseline", "platform")
_OPTIONAL_KEYS = (
    "schema_version",
    "status",
    "version",
    "derived_from",
    "ab_defaults",
    "structure",
    "learned_rules",
)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARAM_ADAPTER: TypeAdapter[Any] = TypeAdapter(ParameterSpec)
_KIND_TAGS = {"float", "int", "categorical"}


def load_skill(path: Path | str) -> Skill:
    """Read and validate the SKILL.md at `path` (a file, or a folder holding one).

    Raises:
        SkillValidationError: naming the file, the field and the problem.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "SKILL.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SkillValidationError(path, "file", "does not exist") from None
    except UnicodeDecodeError as exc:
        raise SkillValidationError(path, "file", f"is not UTF-8 text ({exc.reason})") from None
    return parse_skill(text, path=path)


def parse_skill(text: str, path: Path | str | None = None) -> Skill:
    """Validate SKILL.md `text`; `path` only labels the errors.

    Example:
        >>> from rectune.skillhub import shipped_skills_dir
        >>> p = shipped_skills_dir() / "value_fusion" / "SKILL.md"
        >>> parse_skill(p.read_text(), path=p).space.names[0]
        'vf_w_click'
    """
    front_text, body, body_line = _split_front_matter(text, path)
    try:
        data = yaml.load(front_text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 2  # +1 for 1-based, +1 for the '---' line
        raise SkillValidationError(
            path, "yaml", f"YAML syntax error: {exc.problem}", line
        ) from None
    except yaml.YAMLError as exc:
        raise SkillValidationError(path, "yaml", f"YAML error: {exc}") from None
    if not isinstance(data, dict):
        raise SkillValidationError(path, "front matter", "must be a YAML mapping", 2)
    return _build(data, _Lines(front_text), body, body_line, path)


def _split_front_matter(text: str, path: Path | str | None) -> tuple[str, str, int]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SkillValidationError(
            path, "front matter", "the file must start with a '---' line opening YAML", 1
        )
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    raise SkillValidationError(path, "front matter", "no closing '---' line after the YAML", 1)


class _Lines:
    """Find the line of a field path in the YAML, for error messages.

    Composing the node tree is slow, so it only happens when an error needs a line number.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def line(self, loc: Sequence[str | int]) -> int | None:
        node: yaml.Node | None = yaml.compose(self.text, Loader=_LOADER)
        best: int | None = None if node is None else node.start_mark.line + 2
        for key in loc:
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                        nxt, best = v, k.start_mark.line + 2
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(key, int)
                and 0 <= key < len(node.value)
            ):
                nxt = node.value[key]
                best = nxt.start_mark.line + 2
            if nxt is None:
                break
            node = nxt
        return best


def _field(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _raise_validation(
    exc: ValidationError, base: list[str | int], path: Path | str | None, lines: _Lines
) -> None:
    err = exc.errors()[0]
    loc: list[str | int] = [*base, *(p for p in err["loc"] if p not in _KIND_TAGS)]
    msg = str(err["msg"]).removeprefix("Value error, ")
    extra = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    raise SkillValidationError(path, _field(loc), msg + extra, lines.line(loc)) from None


def _validate(
    model: type[BaseModel] | TypeAdapter[Any],
    value: Any,
    base: list[str | int],
    path: Path | str | None,
    lines: _Lines,
) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(value)
        return model.model_validate(value)
    except ValidationError as exc:
        _raise_validation(exc, base, path, lines)
    except SpecError as exc:
        raise SkillValidationError(path, _field(base), str(exc), lines.line(base)) from None


def _build(
    data: dict[str, Any], lines: _Lines, body: str, body_line: int, path: Path | str | None
) -> Skill:
    for key in _REQUIRED_KEYS:
        if key not in data:
            raise SkillValidationError(path, key, "is required in the front matter", 2)
    for key in data:
        if key not in _REQUIRED_KEYS and key not in _OPTIONAL_KEYS:
            known = sorted((*_REQUIRED_KEYS, *_OPTIONAL_KEYS))
            raise SkillValidationError(
                path, str(key), f"unknown front-matter key; known keys: {known}", lines.line([key])
            )
    for key in ("parameters", "metrics"):
        if not isinstance(data[key], list) or not data[key]:
            raise SkillValidationError(path, key, "must be a non-empty list", lines.line([key]))
    params = [
        _validate(_PARAM_ADAPTER, p, ["parameters", i], path, lines)
        for i, p in enumerate(data["parameters"])
    ]
    try:
        space = SearchSpace(parameters=tuple(params))
    except ValidationError as exc:
        _raise_validation(exc, ["parameters"], path, lines)
    metrics = [
        _validate(MetricSpec, m, ["metrics", i], path, lines) for i, m in enumerate(data["metrics"])
    ]
    baseline = data["baseline"]
    if not isinstance(baseline, Mapping):
        raise SkillValidationError(
            path, "baseline", "must be a mapping of parameter -> value", lines.line(["baseline"])
        )
    raw_rules = data.get("learned_rules") or []
    if not isinstance(raw_rules, list):
        raise SkillValidationError(
            path, "learned_rules", "must be a list", lines.line(["learned_rules"])
        )
    rules = [
        _validate(LearnedRule, r, ["learned_rules", i], path, lines)
        for i, r in enumerate(raw_rules)
    ]
    ab = _validate(ABDefaults, data.get("ab_defaults") or {}, ["ab_defaults"], path, lines)
    structure = _validate(TaskStructure, data.get("structure") or {}, ["structure"], path, lines)
    platform = _validate(PlatformSpec, data["platform"], ["platform"], path, lines)
    sections = _parse_sections(body, body_line, path)
    fields: dict[str, Any] = {
        "name": data["name"],
        "description": data["description"],
        "stage": data["stage"],
        "status": data.get("status", SkillStatus.ACTIVE.value),
        "version": data.get("version", 1),
        "derived_from": data.get("derived_from") or [],
        "space": space,
        "metrics": metrics,
        "baseline": dict(baseline),
        "ab_defaults": ab,
        "structure": structure,
        "platform": platform,
        "learned_rules": rules,
        "sections": sections,
    }
    if "schema_version" in data:
        fields["schema_version"] = data["schema_version"]
    draft = Skill.model_construct(**fields)
    problems = skill_problems(draft)
    if problems:
        field, problem = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        loc: list[str | int] = [field.split(".")[0], *field.split(".")[1:]]
        raise SkillValidationError(path, field, problem + more, lines.line(loc))
    try:
        return Skill.model_validate(fields)
    except ValidationError as exc:
        _raise_validation(exc, [], path, lines)
        raise  # pragma: no cover - _raise_validation always raises


_HEADING = re.compile(r"^##(?!#)\s+(.+?)\s*#*\s*$")


def _parse_sections(body: str, body_line: int, path: Path | str | None) -> SkillSections:
    found: dict[str, list[str]] = {}
    current: str | None = None
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m is not None:
            current = m.group(1).strip()
            if current in found:
                raise SkillValidationError(path, current, "section appears twice", None)
            found[current] = []
        elif current is not None:
            found[current].append(line)
    text = {k: "\n".join(v).strip() for k, v in found.items()}
    for heading in REQUIRED_SECTIONS:
        if heading not in text:
            raise SkillValidationError(
                path, heading, f"missing section '## {heading}'", body_line
            )
        if not text[heading]:
            raise SkillValidationError(path, heading, f"section '## {heading}' is empty", None)
    values = {field: text[h] for h, field in REQUIRED_SECTIONS.items()}
    values["domain_knowledge"] = _strip_learned(values["domain_knowledge"])
    if not values["domain_knowledge"]:
        raise SkillValidationError(
            path, "Domain Knowledge", "needs hand-written text besides the learned rules", None
        )
    extra = {k: v for k, v in text.items() if k not in REQUIRED_SECTIONS}
    return SkillSections(**values, extra=extra)


def _strip_learned(text: str) -> str:
    # The learned-rules list is generated from the front matter, so it is not human text.
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.strip().lower() == LEARNED_RULES_HEADING.lower():
            skipping = True
            continue
        if skipping and line.startswith("### "):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out).strip()
