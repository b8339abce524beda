"""Warm start: import past A/B results that a team already has into the journal.

Two input shapes are accepted.

**CSV**, one row per treatment arm::

    experiment_id,arm,vf_w_click,vf_w_dwell,...,dwell_time_lift,dwell_time_ci_low,
    dwell_time_ci_high,dwell_time_p,...,days,hypothesis

Parameter columns carry the configuration (missing ones are taken from the baseline). For each
metric, ``<metric>_lift``, ``<metric>_ci_low`` and ``<metric>_ci_high`` are required together,
``<metric>_p`` is optional (derived from the CI when absent). Blank cells mean "not measured".

**JSON**, a list (or ``{"experiments": [...]}``) of objects::

    {"experiment_id": "e1", "arm": "a", "config": {...}, "days": 7,
     "metrics": {"dwell_time": {"lift": 0.01, "ci_low": 0.0, "ci_high": 0.02, "p": 0.04}}}

Every value is validated like a platform result; errors name the row (CSV line or JSON index)
and the field. Nothing is written unless the whole file is valid.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from scipy import stats

from rectune.domain.candidates import Candidate
from rectune.domain.configs import apply_delta, config_diff
from rectune.domain.errors import ConfigError, RecTuneError
from rectune.domain.experiments import ArmResult, MetricResult
from rectune.domain.lifecycle import CandidateStatus
from rectune.domain.metrics import MetricSpec
from rectune.domain.parameters import SearchSpace
from rectune.memory.journal_store import JournalStore

__all__ = ["ImportReport", "WarmStartError", "import_experiments", "parse_experiments"]

_META = {"experiment_id", "arm", "days", "hypothesis", "notes", "round"}
_SUFFIXES = ("_lift", "_ci_low", "_ci_high", "_p")


class WarmStartError(RecTuneError, ValueError):
    """The import file is invalid; `problems` lists every ``row N, field F: ...`` found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"{path}: {len(problems)} problem(s); nothing was imported:\n{shown}{more}"
        )


class ImportReport(BaseModel):
    """What an import did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    imported: list[str]
    skipped_existing: list[str]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    experiment_id: str
    arm: str
    config: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    days: int = 0
    hypothesis: str = ""


def _p_from_ci(lift: float, lo: float, hi: float) -> float:
    se = (hi - lo) / (2 * 1.959963984540054)
    if se <= 0:
        return 0.0 if lift != 0 else 1.0
    return float(2 * stats.norm.sf(abs(lift) / se))


def _read_csv(
    path: Path, space: SearchSpace, metric_names: set[str]
) -> tuple[list[_Row], list[str]]:
    problems: list[str] = []
    rows: list[_Row] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in header:
            if col in _META or col in space:
                continue
            stem = next((col[: -len(s)] for s in _SUFFIXES if col.endswith(s)), None)
            if stem is None or stem not in metric_names:
                problems.append(
                    f"header, field {col!r}: not a parameter {space.names}, a metric column "
                    f"(<metric>{'|'.join(_SUFFIXES)} for {sorted(metric_names)}) or one of "
                    f"{sorted(_META)}"
                )
        for col in ("experiment_id", "arm"):
            if col not in header:
                problems.append(f"header, field {col!r}: required column is missing")
        if problems:
            return [], problems
        for line_no, rec in enumerate(reader, start=2):
            label = f"row {line_no}"
            config = {k: _num(v) for k, v in rec.items() if k in space and v not in (None, "")}
            metrics: dict[str, dict[str, Any]] = {}
            for m in metric_names:
                cells = {s[1:]: rec.get(m + s) for s in _SUFFIXES}
                if all(v in (None, "") for v in cells.values()):
                    continue
                metrics[m] = {k: _num(v) for k, v in cells.items() if v not in (None, "")}
            try:
                days = int(rec.get("days") or 0)
            except ValueError:
                problems.append(f"{label}, field 'days': {rec.get('days')!r} is not an integer")
                continue
            rows.append(
                _Row(
                    label=label,
                    experiment_id=(rec.get("experiment_id") or "").strip(),
                    arm=(rec.get("arm") or "").strip(),
                    config=config,
                    metrics=metrics,
                    days=days,
                    hypothesis=rec.get("hypothesis") or "",
                )
            )
    return rows, problems


def _num(v: Any) -> Any:
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f
    return v


def _read_json(path: Path) -> tuple[list[_Row], list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [], [f"line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"]
    if isinstance(data, Mapping):
        data = data.get("experiments")
    if not isinstance(data, list):
        return [], ["top level: expected a list of arms or {'experiments': [...]}"]
    rows: list[_Row] = []
    problems: list[str] = []
    for i, rec in enumerate(data):
        label = f"row {i}"
        if not isinstance(rec, Mapping):
            problems.append(f"{label}: expected an object")
            continue
        unknown = set(rec) - (_META | {"config", "metrics"})
        if unknown:
            problems.append(f"{label}, field {sorted(unknown)[0]!r}: unknown field")
            continue
        metrics = rec.get("metrics") or {}
        config = rec.get("config") or {}
        if not isinstance(metrics, Mapping) or not isinstance(config, Mapping):
            problems.append(f"{label}: 'config' and 'metrics' must be objects")
            continue
        try:
            rows.append(
                _Row(
                    label=label,
                    experiment_id=str(rec.get("experiment_id", "")),
                    arm=str(rec.get("arm", "")),
                    config=dict(config),
                    metrics={str(k): dict(v) for k, v in metrics.items()},
                    days=int(rec.get("days") or 0),
                    hypothesis=str(rec.get("hypothesis") or ""),
                )
            )
        except (TypeError, ValueError) as exc:
            problems.append(f"{label}: {exc}")
    return rows, problems


def _metric_result(label: str, name: str, cells: Mapping[str, Any], problems: list[str]) -> (
    MetricResult | None
):
    allowed = {"lift", "ci_low", "ci_high", "p", "control_mean", "treatment_mean"}
    for key in cells:
        if key not in allowed:
            problems.append(f"{label}, field '{name}.{key}': unknown; allowed {sorted(allowed)}")
            return None
    vals: dict[str, float] = {}
    for key in ("lift", "ci_low", "ci_high"):
        v = cells.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            problems.append(f"{label}, field '{name}_{key}': {v!r} is not a finite number")
            return None
        vals[key] = float(v)
    if not vals["ci_low"] <= vals["lift"] <= vals["ci_high"]:
        problems.append(
            f"{label}, field '{name}_lift': {vals['lift']} lies outside its CI "
            f"[{vals['ci_low']}, {vals['ci_high']}]"
        )
        return None
    p = cells.get("p")
    if p is None:
        p = _p_from_ci(vals["lift"], vals["ci_low"], vals["ci_high"])
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        problems.append(f"{label}, field '{name}_p': {p!r} is not a probability in [0, 1]")
        return None
    # Sources often hold only relative lifts: means are then normalized to a control of 1.
    control = float(cells.get("control_mean", 1.0))
    treatment = float(cells.get("treatment_mean", control * (1 + vals["lift"])))
    try:
        return MetricResult(
            metric=name,
            control_mean=control,
            treatment_mean=treatment,
            relative_lift=vals["lift"],
            ci_low=vals["ci_low"],
            ci_high=vals["ci_high"],
            p_value=float(p),
            significant=vals["ci_low"] > 0 or vals["ci_high"] < 0,
        )
    except (ValidationError, ValueError) as exc:
        problems.append(f"{label}, field '{name}': {exc}")
        return None


def parse_experiments(
    path: Path | str,
    task: str,
    space: SearchSpace,
    metrics: Sequence[MetricSpec],
    baseline: Mapping[str, Any],
) -> list[Candidate]:
    """Read and validate an import file into COMPLETED candidates (nothing is written).

    Raises:
        WarmStartError: listing every invalid row and field.
    """
    path = Path(path)
    metric_names = {m.name for m in metrics}
    if not path.exists():
        raise WarmStartError(path, ["file does not exist"])
    if path.suffix.lower() == ".csv":
        rows, problems = _read_csv(path, space, metric_names)
    elif path.suffix.lower() == ".json":
        rows, problems = _read_json(path)
    else:
        raise WarmStartError(path, [f"unsupported file type {path.suffix!r}; use .csv or .json"])
    base = space.validate_config(baseline)
    out: list[Candidate] = []
    seen: set[str] = set()
    for row in rows:
        if not row.experiment_id or not row.arm:
            problems.append(f"{row.label}, field 'experiment_id'/'arm': both are required")
            continue
        cid = f"import-{row.experiment_id}-{row.arm}"
        if cid in seen:
            problems.append(
                f"{row.label}: experiment {row.experiment_id!r} arm {row.arm!r} repeats"
            )
            continue
        seen.add(cid)
        try:
            config = apply_delta(space, base, row.config)
        except ConfigError as exc:
            problems.append(f"{row.label}, field {exc.field!r}: {exc.value!r} is not {exc.allowed}")
            continue
        results: dict[str, MetricResult] = {}
        for name, cells in row.metrics.items():
            if name not in metric_names:
                problems.append(
                    f"{row.label}, field {name!r}: unknown metric; known {sorted(metric_names)}"
                )
                continue
            r = _metric_result(row.label, name, cells, problems)
            if r is not None:
                results[name] = r
        if not row.metrics:
            problems.append(f"{row.label}: no metric results")
            continue
        c = Candidate(
            id=cid,
            task=task,
            round=0,
            delta=config_diff(base, config),
            config=config,
            hypothesis=row.hypothesis,
            source="import",
            experiment_id=row.experiment_id,
            result=ArmResult(arm=row.arm, candidate_id=cid, metrics=results, days_run=row.days),
        )
        for status in (CandidateStatus.APPROVED, CandidateStatus.LIVE, CandidateStatus.COMPLETED):
            c = c.transition(status, f"imported from {path.name}")
        out.append(c)
    if problems:
        raise WarmStartError(path, problems)
    return out


def import_experiments(
    path: Path | str,
    journal: JournalStore,
    task: str,
    space: SearchSpace,
    metrics: Sequence[MetricSpec],
    baseline: Mapping[str, Any],
) -> ImportReport:
    """Validate an import file and add its arms to the journal as COMPLETED candidates.

    Re-importing the same file is harmless: arms already in the journal are skipped.

    Example:
        >>> import tempfile, json
        >>> from rectune.memory.journal import Journal
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> s = SkillHub(shipped_skills_dir()).get("value_fusion")
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "past.json").write_text(json.dumps([{"experiment_id": "e1", "arm": "a",
        ...     "config": {"vf_w_click": 1.5},
        ...     "metrics": {"dwell_time": {"lift": 0.01, "ci_low": 0.0, "ci_high": 0.02}}}]))
        >>> import_experiments(d / "past.json", Journal(d), s.name, s.space, s.metrics,
        ...                    s.baseline).imported
        ['import-e1-a']
    """
    parsed = parse_experiments(path, task, space, metrics, baseline)
    added, skipped = journal.add_new_candidates(task, parsed)
    return ImportReport(imported=added, skipped_existing=skipped)
