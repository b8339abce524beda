"""Placeholder handling for platform config-file templates.

A template is any JSON value. A string that is exactly ``"{{name}}"`` is replaced by the value
itself (so numbers stay numbers); ``{{name}}`` inside a longer string is replaced by its text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["CONTEXT_PLACEHOLDERS", "PLACEHOLDER", "placeholders", "substitute"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
"""``{{ name }}``; whitespace inside the braces is tolerated."""

CONTEXT_PLACEHOLDERS = frozenset({"task", "arm", "experiment_id", "skill_version", "config_json"})
"""Names filled from the render context rather than from the configuration."""


def placeholders(template: Any) -> set[str]:
    """Every placeholder name used anywhere in `template` (keys included).

    Example:
        >>> sorted(placeholders({"w": "{{a}}", "{{task}}_name": ["x {{b}}"]}))
        ['a', 'b', 'task']
    """
    found: set[str] = set()
    if isinstance(template, str):
        found.update(PLACEHOLDER.findall(template))
    elif isinstance(template, Mapping):
        for k, v in template.items():
            found |= placeholders(str(k))
            found |= placeholders(v)
    elif isinstance(template, list | tuple):
        for v in template:
            found |= placeholders(v)
    return found


def substitute(template: Any, values: Mapping[str, Any]) -> Any:
    """A copy of `template` with every placeholder replaced from `values`.

    Raises:
        KeyError: naming a placeholder that has no value.

    Example:
        >>> substitute({"w": "{{a}}", "label": "arm {{a}}"}, {"a": 0.5})
        {'w': 0.5, 'label': 'arm 0.5'}
    """
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template.strip())
        if whole is not None:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
    if isinstance(template, Mapping):
        return {str(substitute(str(k), values)): substitute(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [substitute(v, values) for v in template]
    return template
