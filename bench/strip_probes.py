"""Copy ``src/`` with every USDT probe call site removed: the "absent" side of the probe-cost A/B.

    .venv/bin/python bench/strip_probes.py /tmp/noprobes
    .venv/bin/python bench/ab.py --section 'USDT probes compiled in or absent, alternating runs' \\
        --a probes-absent:PYTHONPATH=/tmp/noprobes/src --b probes-in:TODOSTACK_PROBES=on

Each call site is one statement (``probes.request_done(...)``); it becomes ``pass``, so the copy is
the same code without the probes' calls (not merely with the library unloaded, which still pays
for the calls and their semaphore reads). The script refuses to produce a copy that still fires one.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
_PROBES = r"probes\.(?:request_start|request_done|db_start|db_done|cancel|memory_guard|autoprof_report)\("
_CALL = re.compile(rf"^(?P<indent>\s*){_PROBES}.*\)\s*$")


def strip(text: str) -> tuple[str, int]:
    lines, removed = [], 0
    for line in text.splitlines(keepends=True):
        match = _CALL.match(line)
        if match:
            lines.append(f"{match.group('indent')}pass  # probe removed by bench/strip_probes.py\n")
            removed += 1
        else:
            lines.append(line)
    return "".join(lines), removed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dest = Path(argv[0]) / "src"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(SRC, dest, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    total = 0
    for path in dest.rglob("*.py"):
        if "ebpf" in path.relative_to(dest).parts:
            continue
        text, removed = strip(path.read_text())
        if removed:
            path.write_text(text)
            total += removed
    # A call written over several lines would not match the one-line pattern: refuse it.
    firing = re.compile(_PROBES)
    left = [p for p in dest.rglob("*.py") if "ebpf" not in p.parts and firing.search(p.read_text())]
    if left:
        print(f"probe calls left in {left}", file=sys.stderr)
        return 1
    print(f"{dest}: {total} probe call sites removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
