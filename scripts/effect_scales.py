"""Typical effect of a one-knob move per metric, for the shipped skills' `effect_scales`.

For every knob of a shipped task, production moves by a fifth of the skill's soft range up and
down, measured on the knob's scale (the engine's features: equal factors for `log` and
`log1p` knobs) and kept inside the soft box; the oracle measures each move (common random
numbers) and the figure per metric is the root mean square of those lifts - what
`docs/skills.md` defines as an effect scale. Run with::

    .venv/bin/python scripts/effect_scales.py [--users 6000] [--days 7] [--tasks NAME ...]
"""

from __future__ import annotations

import argparse
import json
import math
import sys


def main() -> None:
    """Print suggested effect scales per shipped skill."""
    from rectune.domain import FloatParameter, IntParameter
    from rectune.optimizers.encoding import SpaceEncoder
    from rectune.simulator.oracle import oracle_lifts
    from rectune.skillhub import SkillHub, shipped_skills_dir

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=6_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--tasks", nargs="+", default=["value_based_retrieval", "value_fusion", "diversity"]
    )
    args = parser.parse_args()
    hub = SkillHub(shipped_skills_dir())
    out: dict[str, dict[str, float]] = {}
    for name in args.tasks:
        skill = hub.get(name)
        enc = SpaceEncoder(skill.space)
        base = enc.encode(skill.baseline)
        squares: dict[str, list[float]] = {}
        for p in skill.space.parameters:
            if not isinstance(p, FloatParameter | IntParameter):
                continue
            col = enc.param_slice(p.name).start
            for sign in (1.0, -1.0):
                x = base.copy()
                x[col] += sign / 5.0
                value = enc.decode(x)[p.name]  # clipped into the soft box, tidied
                if value == skill.baseline[p.name]:
                    continue
                print(f"{name}: {p.name} {skill.baseline[p.name]} -> {value}", file=sys.stderr)
                lifts = oracle_lifts(name, {p.name: value}, n_users=args.users, days=args.days)
                for metric, lift in lifts.items():
                    squares.setdefault(metric, []).append(lift * lift)
        out[name] = {m: round(math.sqrt(sum(v) / len(v)), 4) for m, v in squares.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
