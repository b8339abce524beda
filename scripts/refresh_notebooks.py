"""Execute every notebook in notebooks/ and store its outputs (plots included).

Run from a source checkout: ``make notebooks``. Temporary paths in the outputs are replaced by
``<tmp>`` so that no machine's folders end up in the repository.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
TMP = re.compile(r"/tmp/[A-Za-z0-9_.-]+")


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return TMP.sub("<tmp>", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) if k != "image/png" else v for k, v in value.items()}
    return value


def refresh(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        client = nbclient.NotebookClient(
            book, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        client.execute()
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(_scrub(dict(o))) for o in cell.outputs]
    nbformat.write(book, path)
    print(f"refreshed {path.relative_to(ROOT)}")


def main() -> None:
    given = [Path(p).resolve() for p in sys.argv[1:]]
    paths = given or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        refresh(path)


if __name__ == "__main__":
    main()
