"""Typical effect of a one-knob move per metric, for the shipped skills' `effect_scales`.

For every knob of a shipped task, production moves by a fifth of the skill's soft range up and
down (inside the hard bounds); the oracle measures each move (common random numbers) and the
figure per metric is the root mean square of those lifts - what `docs/skills.md` defines as an
effect scale. Run with::

    .venv/bin/python scripts/effect_scales.py [--users 6000] [--days 7]
"""

from __future__ import annotations

import argparse
import json
import math


def main() -> None:
    """Print suggested effect scales per shipped skill."""
    from rectune.domain import FloatParameter, IntParameter
    from rectune.simulator.oracle import oracle_lifts
    from rectune.skillhub import SkillHub, shipped_skills_dir

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=6_000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    hub = SkillHub(shipped_skills_dir())
    out: dict[str, dict[str, float]] = {}
    for name in ("value_based_retrieval", "value_fusion", "diversity"):
        skill = hub.get(name)
        squares: dict[str, list[float]] = {}
        for p in skill.space.parameters:
            if not isinstance(p, FloatParameter | IntParameter):
                continue
            lo, hi = p.soft_range
            step = (float(hi) - float(lo)) / 5.0
            base = float(skill.baseline[p.name])
            for sign in (1.0, -1.0):
                v = min(p.high, max(p.low, base + sign * step))
                value: float | int = round(v) if isinstance(p, IntParameter) else round(v, 4)
                if value == skill.baseline[p.name]:
                    continue
                lifts = oracle_lifts(name, {p.name: value}, n_users=args.users, days=args.days)
                for metric, lift in lifts.items():
                    squares.setdefault(metric, []).append(lift * lift)
        out[name] = {m: round(math.sqrt(sum(v) / len(v)), 4) for m, v in squares.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
