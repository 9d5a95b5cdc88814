"""The chaos suite's summary table, from the journals under ``var/chaos/``::

python -m tests.chaos.summary var/chaos
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "table"]


def _seen(measurements: dict[str, Any]) -> str:
    seen = measurements["clients_saw"]
    if not seen:
        return "nothing but 201"
    return ", ".join(f"{n} x {what}" for what, n in seen.items())


def table(journals: list[dict[str, Any]]) -> str:
    lines = [
        "| experiment | acknowledged | lost | duplicated | what clients saw (failed attempts) | slowest request"
        " | slowest /readyz | ready again after | verdict |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for journal in journals:
        m = journal["measurements"]
        recovery = "never" if m["recovery_seconds"] is None else f"{m['recovery_seconds']:.2f} s"
        verdict = m["verdict"] if not m["broken"] else "**broken**: " + "; ".join(m["broken"])
        lines.append(
            f"| {journal['experiment']['title']} | {m['acknowledged']:,} | {m['lost']} | {m['duplicates']}"
            f" | {_seen(m)} | {m['slowest_request_seconds']:.2f} s | {m['readyz_slowest_seconds']:.2f} s"
            f" | {recovery} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "var/chaos")
    journals = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    if not journals:
        print(f"no journals in {folder}", file=sys.stderr)
        return 1
    journals.sort(key=lambda j: j["start"])
    print(table(journals))
    total = sum(j["duration"] for j in journals)
    print(f"\n{len(journals)} experiments, {total:.0f} s in experiments; journals in {folder}/")
    return 0 if all(not j["measurements"]["broken"] for j in journals) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
