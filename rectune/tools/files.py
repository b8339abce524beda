"""A file hand-off platform for teams whose A/B system has no API.

``launch`` writes, into ``<directory>/<experiment_id>/``:

* ``README.txt`` - what to deploy with which traffic, for how long, where the results go
  and in which format, and which rectune round is waiting for them (with the resume command);
* ``arms/<arm>/<file>`` - each arm's platform config file, rendered from the skill's template
  with the experiment id filled in, ready to deploy (``arms/<arm>.json`` holds the raw
  configuration when an arm has no rendered file);
* ``spec.json`` - the whole experiment spec (arms, raw configurations, traffic, days, metrics).

A person runs the test on their platform and drops ``results.json`` into the same folder.
Until then the experiment is RUNNING. The results file is validated completely (its
experiment id, arms, metrics, numbers and their consistency) before anything is recorded; a
bad file raises `ResultsFileError` naming the problem and leaves the recorded state
untouched, so a corrected file can simply replace it.

``results.json`` format::

    {
      "experiment_id": "handoff-1a2b3c4d5e6f",   # required: this folder's experiment
      "days_run": 7,                      # optional, defaults to the planned days; 1..planned
      "state": "completed",               # optional: "completed" (default) or "aborted"
      "arms": {
        "<treatment arm>": {
          "aborted": false,               # optional
          "abort_reason": null,           # optional
          "breached_guardrails": [],      # optional: guardrails your monitor stopped it for
          "metrics": {
            "<metric>": {
              "relative_lift": 0.012, "ci_low": 0.002, "ci_high": 0.022, "p_value": 0.03,
              "control_mean": 812.0, "treatment_mean": 821.7,   # optional
              "n_control": 6000, "n_treatment": 6000            # optional, >= 1
            }
          }
        }
      },
      "srm_p_value": 0.41                 # optional
    }

Every treatment arm must appear with every metric of the experiment; the control arm is the
reference and is not listed. The interval must have a positive width and contain the lift,
and the p-value must agree with it (a p-value below 0.05 with an interval that clearly holds
zero, or the reverse, is refused). Holm's correction is applied across all (arm, metric)
pairs within each metric role, and every guardrail gets a one-sided non-inferiority verdict
(passed / inconclusive / breached) as on the simulated platform.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rectune.domain import (
    ArmResult,
    ExperimentResult,
    ExperimentSpec,
    ExperimentState,
    GuardrailVerdict,
    MetricResult,
    MetricRole,
    MetricSpec,
    RecTuneError,
    SpecError,
)
from rectune.tools.platform import (
    SRM_ALPHA,
    ExperimentNotFoundError,
    ExperimentStatus,
    experiment_id_for,
    spec_fingerprint,
    validated_spec,
)
from rectune.tools.stats import Comparison, holm
from rectune.tools.store import atomic_write_json, atomic_write_text, platform_lock, read_json
from rectune.tools.verdicts import guardrail_verdict

__all__ = ["FileHandoffPlatform", "ResultsFileError"]

_REQUIRED = ("relative_lift", "ci_low", "ci_high", "p_value")
VERDICT_ALPHA = 0.05
"""Level of each guardrail's non-inferiority verdict (as on the simulated platform)."""
_OPTIONAL_FLOAT = ("control_mean", "treatment_mean")
_OPTIONAL_INT = ("n_control", "n_treatment")


class ResultsFileError(RecTuneError, ValueError):
    """A dropped results file is malformed; the message names the file and the problem."""


class FileHandoffPlatform:
    """`ABPlatform` that hands experiments to people through a directory.

    Args:
        directory: Shared folder; one sub-folder per experiment.
        known_metrics: Metrics allowed per task (defaults to every metric an experiment
            names; when the spec lists none, the results file defines them).
    """

    def __init__(
        self, directory: Path | str, known_metrics: dict[str, list[str]] | None = None
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.known_metrics = known_metrics or {}

    # ----------------------------------------------------------------- helpers
    def _folder(self, experiment_id: str) -> Path:
        folder = self.directory / experiment_id
        if not (folder / "record.json").exists():
            raise ExperimentNotFoundError(f"no experiment {experiment_id!r} in {self.directory}")
        return folder

    def _record(self, experiment_id: str) -> dict[str, Any]:
        data: dict[str, Any] = read_json(self._folder(experiment_id) / "record.json")
        return data

    def _metrics(self, spec: ExperimentSpec) -> list[str]:
        if spec.metrics:
            return list(spec.metrics)
        return list(self.known_metrics.get(spec.task, []))

    # ----------------------------------------------------------------- protocol
    def launch(self, spec: ExperimentSpec, idempotency_key: str) -> str:
        """Write the spec and one config file per arm; the same key returns the same id."""
        if not idempotency_key:
            raise SpecError("idempotency_key: must be a non-empty string")
        spec = validated_spec(spec)
        allowed = self.known_metrics.get(spec.task)
        if allowed is not None:
            bad = [m for m in spec.metrics if m not in allowed]
            if bad:
                raise SpecError(
                    f"experiment metrics: unknown metric {bad[0]!r}; allowed: {allowed}"
                )
        eid = experiment_id_for(idempotency_key, prefix="handoff")
        fingerprint = spec_fingerprint(spec)
        with platform_lock(self.directory):
            folder = self.directory / eid
            if (folder / "record.json").exists():
                record = read_json(folder / "record.json")
                if record["fingerprint"] != fingerprint:
                    raise SpecError(
                        f"idempotency_key {idempotency_key!r} was already used for experiment "
                        f"{eid} with a different spec; use a new key"
                    )
                return eid
            atomic_write_json(folder / "spec.json", spec.model_dump(mode="json"))
            files = self._write_arms(folder, eid, spec)
            atomic_write_text(folder / "README.txt", _readme(eid, spec, files, self._metrics(spec)))
            atomic_write_json(
                folder / "record.json",
                {
                    "experiment_id": eid,
                    "idempotency_key": idempotency_key,
                    "fingerprint": fingerprint,
                    "state": ExperimentState.RUNNING.value,
                    "abort_reason": None,
                    "result": None,
                },
            )
        return eid

    def status(self, experiment_id: str) -> ExperimentStatus:
        """RUNNING until a valid results file arrives; a malformed file raises."""
        record = self._record(experiment_id)
        spec = ExperimentSpec.model_validate(read_json(self._folder(experiment_id) / "spec.json"))
        if record["state"] == ExperimentState.RUNNING.value:
            result = self._ingest(experiment_id, spec)
            if result is not None:
                record = self._record(experiment_id)
        result_data = record.get("result")
        days_run = result_data["days_run"] if result_data else 0
        aborted = {}
        if result_data:
            aborted = {
                a["arm"]: a.get("abort_reason") or "aborted"
                for a in result_data["arms"]
                if a.get("aborted")
            }
        return ExperimentStatus(
            experiment_id=experiment_id,
            task=spec.task,
            state=ExperimentState(record["state"]),
            days_run=days_run,
            days_total=spec.days,
            aborted_arms=aborted,
            abort_reason=record.get("abort_reason"),
        )

    def results(self, experiment_id: str) -> ExperimentResult:
        """The validated results; raises `ResultsFileError` if there are none yet."""
        self.status(experiment_id)
        record = self._record(experiment_id)
        if record.get("result") is None:
            raise ResultsFileError(
                f"experiment {experiment_id}: no results yet; drop results.json into "
                f"{self.directory / experiment_id}"
            )
        return ExperimentResult.model_validate(record["result"])

    def abort(self, experiment_id: str, reason: str) -> ExperimentStatus:
        """Mark a running hand-off experiment aborted (tell the people running it)."""
        folder = self._folder(experiment_id)
        with platform_lock(self.directory):
            record = self._record(experiment_id)
            if record["state"] == ExperimentState.RUNNING.value:
                record["state"] = ExperimentState.ABORTED.value
                record["abort_reason"] = reason or "aborted"
                atomic_write_json(folder / "record.json", record)
                atomic_write_text(folder / "ABORTED.txt", f"{reason}\n")
        return self.status(experiment_id)

    def _write_arms(self, folder: Path, eid: str, spec: ExperimentSpec) -> dict[str, str]:
        """Each arm's deployable file; returns arm -> path inside the folder."""
        out: dict[str, str] = {}
        for arm in spec.arms:
            if arm.config_file is not None:
                rel = f"arms/{arm.name}/{arm.config_file.file_name}"
                atomic_write_text(folder / rel, arm.config_file.with_experiment_id(eid))
            else:
                rel = f"arms/{arm.name}.json"
                atomic_write_json(
                    folder / rel,
                    {
                        "experiment_id": eid,
                        "task": spec.task,
                        "arm": arm.name,
                        "role": "control" if arm.name == spec.control.name else "treatment",
                        "traffic": arm.traffic,
                        "config": arm.config,
                    },
                )
            out[arm.name] = rel
        return out

    # ----------------------------------------------------------------- validation
    def _ingest(self, experiment_id: str, spec: ExperimentSpec) -> ExperimentResult | None:
        folder = self._folder(experiment_id)
        path = folder / "results.json"
        if not path.exists():
            return None
        result = parse_results(path, experiment_id, spec, self._metrics(spec))
        with platform_lock(self.directory):
            record = self._record(experiment_id)
            if record["state"] != ExperimentState.RUNNING.value:
                return None
            record["state"] = result.state.value
            record["result"] = result.model_dump(mode="json")
            atomic_write_json(folder / "record.json", record)
        return result


def _readme(eid: str, spec: ExperimentSpec, files: dict[str, str], metrics: list[str]) -> str:
    arms = "\n".join(
        f"  - {a.name} ({'control' if a.name == spec.control.name else 'treatment'}): "
        f"{a.traffic:.1%} of users, deploy {files[a.name]}"
        for a in spec.arms
    )
    example = {
        "experiment_id": eid,
        "days_run": spec.days,
        "arms": {
            a.name: {
                "metrics": {
                    m: {"relative_lift": 0.01, "ci_low": 0.002, "ci_high": 0.018,
                        "p_value": 0.014, "n_control": 6000, "n_treatment": 6000}
                    for m in (metrics or ["<metric>"])
                }
            }
            for a in spec.treatments
        },
    }
    import json

    origin = f"\n{spec.description}\n" if spec.description else ""
    return (
        f"Experiment {eid}: task {spec.task}, {spec.days} day(s).\n{origin}\n"
        f"1. Deploy each arm's config file with the traffic shown:\n{arms}\n"
        f"2. Run the test for {spec.days} day(s) and compare each treatment arm with the\n"
        f"   control on: {', '.join(metrics) if metrics else '(any metric)'}.\n"
        "3. Write results.json into this folder (relative lifts are fractions: 0.01 = +1%;\n"
        "   ci_low/ci_high are the 95% interval; the control arm is not listed):\n\n"
        f"{json.dumps(example, indent=2)}\n\n"
        "The file is checked in full before anything is recorded; an error names the field.\n"
        "To stop the test early, write \"state\": \"aborted\" and the days it ran.\n"
    )


def _number(where: str, value: object, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultsFileError(f"{where}: {value!r} is not a number")
    if not math.isfinite(float(value)):
        raise ResultsFileError(f"{where}: {value!r} is not a finite number")
    if integer and (float(value) != int(value) or value < 0):
        raise ResultsFileError(f"{where}: {value!r} is not a non-negative integer")
    return float(value)


def _p_contradicts_interval(lift: float, low: float, high: float, p: float) -> str | None:
    """Why a p-value and its 95% interval disagree, or None.

    Intervals and tests may come from slightly different methods, so only a clear conflict
    counts: p < 0.05 while zero lies well inside the interval, or p > 0.05 while the interval
    stays well away from zero (margin: a fifth of the interval's half-width).
    """
    margin = 0.2 * (high - low) / 2
    if p < 0.05 and low + margin < 0.0 < high - margin:
        return (
            f"p_value {p} says significant at 5% but the interval [{low}, {high}] holds zero "
            "well inside; check which numbers belong together"
        )
    if p > 0.05 and (low > margin or high < -margin):
        return (
            f"p_value {p} says not significant at 5% but the interval [{low}, {high}] excludes "
            "zero clearly; check which numbers belong together"
        )
    return None


def _verdicts(
    metrics: dict[str, MetricResult], specs: dict[str, MetricSpec], *, breached: list[str],
    where: str,
) -> list[GuardrailVerdict]:
    """One non-inferiority verdict per guardrail the spec names, from the reported numbers.

    A guardrail the team's monitor stopped (``breached_guardrails``) is breached; so is one
    whose whole 95% interval lies past the limit; otherwise the one-sided bound decides
    between passed and inconclusive, exactly as on the simulated platform.
    """
    out: list[GuardrailVerdict] = []
    for m in (s for s in specs.values() if s.role is MetricRole.GUARDRAIL):
        r = metrics.get(m.name)
        if r is None:
            continue
        cmp = Comparison(
            r.control_mean, r.treatment_mean, r.relative_lift, r.standard_error, r.p_value,
            r.n_control, r.n_treatment,
        )
        assert m.guardrail_threshold is not None
        past = (r.ci_high < m.guardrail_threshold) if m.sign > 0 else (
            r.ci_low > m.guardrail_threshold
        )
        day = 1 if (m.name in breached or past) else None
        verdict = guardrail_verdict(m, cmp, alpha=VERDICT_ALPHA, breached_on_day=day)
        if day is not None:
            why = "the team's monitor stopped it" if m.name in breached else (
                "the whole 95% interval is past the limit"
            )
            verdict = verdict.model_copy(update={"detail": f"{m.name} breached: {why} ({where})"})
        out.append(verdict)
    return out


def parse_results(
    path: Path, experiment_id: str, spec: ExperimentSpec, metrics: list[str]
) -> ExperimentResult:
    """Read and fully validate a results file against its experiment.

    Raises:
        ResultsFileError: unreadable JSON, unknown or missing arm, missing or unknown metric,
            malformed numbers, inconsistent intervals or p-values outside [0, 1].
    """
    import json

    name = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ResultsFileError(f"{name}: the top level must be an object with an 'arms' key")
    allowed_top = ("experiment_id", "days_run", "state", "arms", "srm_p_value", "notes")
    unknown_top = sorted(set(data) - set(allowed_top))
    if unknown_top:
        raise ResultsFileError(
            f"{name}: unknown key {unknown_top[0]!r}; allowed: {', '.join(allowed_top)}"
        )
    if "experiment_id" not in data:
        raise ResultsFileError(
            f"{name}: missing 'experiment_id'; write \"experiment_id\": \"{experiment_id}\" so "
            "the results cannot be mistaken for another experiment's"
        )
    if data["experiment_id"] != experiment_id:
        raise ResultsFileError(
            f"{name}: experiment_id {data['experiment_id']!r} is not this folder's experiment "
            f"{experiment_id!r} (results copied from another experiment?)"
        )
    arms = data.get("arms")
    if not isinstance(arms, dict):
        raise ResultsFileError(f"{name}: 'arms' must map each treatment arm to its metrics")
    expected = [a.name for a in spec.treatments]
    for arm in arms:
        if arm not in expected:
            raise ResultsFileError(
                f"{name}: unknown arm {arm!r}; expected the treatment arms {expected}"
                + (" (control is the reference, do not list it)" if arm == spec.control.name
                   else "")
            )
    missing_arms = [a for a in expected if a not in arms]
    if missing_arms:
        raise ResultsFileError(f"{name}: missing arm {missing_arms[0]!r}; expected {expected}")
    days_run = spec.days
    if "days_run" in data:
        days_run = int(_number(f"{name}: days_run", data["days_run"], integer=True))
        if not 1 <= days_run <= spec.days:
            raise ResultsFileError(
                f"{name}: days_run {days_run} is not possible for a {spec.days}-day test; "
                f"allowed: 1 to {spec.days}"
            )
    state_raw = data.get("state", "completed")
    if state_raw not in ("completed", "aborted"):
        raise ResultsFileError(f"{name}: state {state_raw!r}; allowed: 'completed', 'aborted'")
    rows: list[tuple[str, MetricResult]] = []
    arm_meta: dict[str, tuple[bool, str | None, list[str]]] = {}
    for arm in expected:
        block = arms[arm]
        where = f"{name}: arm {arm!r}"
        if not isinstance(block, dict) or not isinstance(block.get("metrics"), dict):
            raise ResultsFileError(f"{where}: must be an object with a 'metrics' object")
        got = block["metrics"]
        wanted = metrics or list(got)
        if not wanted:
            raise ResultsFileError(f"{where}: no metrics given")
        for m in got:
            if metrics and m not in metrics:
                raise ResultsFileError(f"{where}: unknown metric {m!r}; expected {metrics}")
        for m in wanted:
            if m not in got:
                raise ResultsFileError(f"{where}: missing metric {m!r}; expected {wanted}")
            entry = got[m]
            mw = f"{where}, metric {m!r}"
            if not isinstance(entry, dict):
                raise ResultsFileError(f"{mw}: must be an object")
            for k in entry:
                if k not in (*_REQUIRED, *_OPTIONAL_FLOAT, *_OPTIONAL_INT):
                    raise ResultsFileError(f"{mw}: unknown field {k!r}")
            for k in _REQUIRED:
                if k not in entry:
                    raise ResultsFileError(f"{mw}: missing field {k!r}")
            vals = {k: _number(f"{mw}, {k}", entry[k]) for k in _REQUIRED}
            if not 0.0 <= vals["p_value"] <= 1.0:
                raise ResultsFileError(f"{mw}: p_value {vals['p_value']} is outside [0, 1]")
            if not vals["ci_low"] <= vals["relative_lift"] <= vals["ci_high"]:
                raise ResultsFileError(
                    f"{mw}: need ci_low <= relative_lift <= ci_high, got "
                    f"{vals['ci_low']} / {vals['relative_lift']} / {vals['ci_high']}"
                )
            if not vals["ci_low"] < vals["ci_high"]:
                raise ResultsFileError(
                    f"{mw}: the interval [{vals['ci_low']}, {vals['ci_high']}] has no width; "
                    "a measured lift always has some uncertainty"
                )
            contradiction = _p_contradicts_interval(
                vals["relative_lift"], vals["ci_low"], vals["ci_high"], vals["p_value"]
            )
            if contradiction:
                raise ResultsFileError(f"{mw}: {contradiction}")
            extra_f = {
                k: _number(f"{mw}, {k}", entry[k]) for k in _OPTIONAL_FLOAT if k in entry
            }
            extra_i = {
                k: int(_number(f"{mw}, {k}", entry[k], integer=True))
                for k in _OPTIONAL_INT
                if k in entry
            }
            for k, n in extra_i.items():
                if n < 1:
                    raise ResultsFileError(f"{mw}: {k} {n} means no users; allowed: >= 1")
            control_mean = extra_f.get("control_mean", 1.0)
            treatment_mean = extra_f.get(
                "treatment_mean", control_mean * (1.0 + vals["relative_lift"])
            )
            rows.append(
                (
                    arm,
                    MetricResult(
                        metric=m,
                        control_mean=control_mean,
                        treatment_mean=treatment_mean,
                        relative_lift=vals["relative_lift"],
                        ci_low=vals["ci_low"],
                        ci_high=vals["ci_high"],
                        p_value=vals["p_value"],
                        **extra_i,
                    ),
                )
            )
        aborted = block.get("aborted", False)
        if not isinstance(aborted, bool):
            raise ResultsFileError(f"{where}: 'aborted' must be true or false")
        reason = block.get("abort_reason")
        if reason is not None and not isinstance(reason, str):
            raise ResultsFileError(f"{where}: 'abort_reason' must be a string")
        breached = block.get("breached_guardrails", [])
        if not isinstance(breached, list) or not all(isinstance(b, str) for b in breached):
            raise ResultsFileError(f"{where}: 'breached_guardrails' must be a list of metrics")
        guardrail_names = [m.name for m in spec.metric_specs if m.role is MetricRole.GUARDRAIL]
        for b in breached:
            if b not in guardrail_names:
                raise ResultsFileError(
                    f"{where}: breached_guardrails names {b!r}; the guardrails are "
                    f"{guardrail_names}"
                )
        arm_meta[arm] = (aborted, reason, breached)
    srm_p: float | None = None
    if data.get("srm_p_value") is not None:
        srm_p = _number(f"{name}: srm_p_value", data["srm_p_value"])
        if not 0 <= srm_p <= 1:
            raise ResultsFileError(f"{name}: srm_p_value {srm_p} is outside [0, 1]")
    specs = {m.name: m for m in spec.metric_specs}
    per_arm: dict[str, dict[str, MetricResult]] = {a: {} for a in expected}
    # Each role is its own Holm family, as on the simulated platform: the primary flag people
    # read is corrected over arms x primaries only.
    roles = {r.metric: specs[r.metric].role if r.metric in specs else None for _, r in rows}
    for family in sorted(set(roles.values()), key=str):
        members = [(arm, r) for arm, r in rows if roles[r.metric] == family]
        adjusted, reject = holm([r.p_value for _, r in members])
        for (arm, r), p_adj, rej in zip(members, adjusted, reject, strict=True):
            per_arm[arm][r.metric] = r.model_copy(
                update={"p_adjusted": p_adj, "significant": rej, "role": family}
            )
    verdicts = {
        a: _verdicts(per_arm[a], specs, breached=arm_meta[a][2], where=f"{name}: arm {a!r}")
        for a in expected
    }
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ResultsFileError(f"{name}: 'notes' must be a list of strings")
    return ExperimentResult(
        experiment_id=experiment_id,
        task=spec.task,
        state=ExperimentState(state_raw),
        days_run=days_run,
        arms=[
            ArmResult(
                arm=a,
                candidate_id=next(t.candidate_id for t in spec.treatments if t.name == a),
                metrics=per_arm[a],
                aborted=arm_meta[a][0],
                abort_reason=arm_meta[a][1],
                days_run=days_run,
                days_planned=spec.days,
                stopped_early=arm_meta[a][0] and days_run < spec.days,
                guardrails=verdicts[a],
            )
            for a in expected
        ],
        srm_p_value=srm_p,
        srm_detected=srm_p is not None and srm_p < SRM_ALPHA,
        notes=list(notes),
    )
