"""Make the PNG screenshots in docs/img: the 80-column approval review, `rectune history`
and the first screen of the HTML report, from real offline rounds.

Needs a Chromium to turn the terminal's SVG and the report's HTML into PNG (Debian's
`chromium` package; ``CHROMIUM=/path`` to use another). Run from a source checkout:
``make screenshots``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from rich.console import Console

from rectune import run_round
from rectune.cli_review import CHOICES, render_review
from rectune.cli_view import print_history
from rectune.memory.journal import Journal
from rectune.report import build_report
from rectune.skillhub.hub import SkillHub
from rectune.workspace import init_workspace

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
SMALL = {"proposals_per_round": 6, "arms_per_ab": 3, "days": 3, "seed": 2, "model": None}
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def _chromium() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        raise SystemExit("no Chromium found: install Debian's `chromium` or set CHROMIUM=")
    return found


def _shot(url: str, png: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [_chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={png}", url],
            check=True, capture_output=True, timeout=120,
        )
    print(f"wrote {png.relative_to(ROOT)}")


def _terminal(con: Console, name: str, title: str) -> None:
    svg = con.export_svg(title=title)
    path = OUT / f"{name}.svg"
    path.write_text(svg)
    m = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg)
    width, height = (int(float(m.group(1))) + 2, int(float(m.group(2))) + 2) if m else (1000, 800)
    _shot(path.as_uri(), OUT / f"{name}.png", width, height)
    path.unlink()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws").root
        for _ in range(2):
            run_round("value_fusion", workspace=ws, approve=True, **SMALL)
        paused = run_round("value_fusion", workspace=ws, **SMALL)
        assert paused.pending is not None, paused.status
        skill = SkillHub(ws / "skills").get("value_fusion")
        con = Console(record=True, width=80, force_terminal=True, color_system="truecolor")
        render_review(paused.pending, skill, con)
        con.print("  ".join(f"[{k}] {v}" for k, v in CHOICES.items()), highlight=False,
                  markup=False)
        con.print("your choice: ", end="", highlight=False)
        _terminal(con, "approval_80", "rectune approve (80 columns)")
        con = Console(record=True, width=80, force_terminal=True, color_system="truecolor")
        print_history("value_fusion", Journal(ws / "journal").candidates("value_fusion"),
                      skill.metrics, "ws", con)
        _terminal(con, "history_80", "rectune history value_fusion (80 columns)")
        report = build_report(ws, "value_fusion")
        _shot(report.index.as_uri(), OUT / "report_first_screen.png", 1100, 900)


if __name__ == "__main__":
    main()
