"""``todostack profile list|show``: the profiles autoprof captured, read back from its directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from todostack.profiling.pprof import ProfileFormatError, decode
from todostack.profiling.profile import StackProfile
from todostack.profiling.reporters import report_files

__all__ = ["list_profiles", "show_profile"]


def _load(path: Path) -> dict[str, object] | None:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def list_profiles(directory: Path, *, as_json: bool = False) -> int:
    found = [(p, r) for p in report_files(directory) if (r := _load(p)) is not None] if directory.is_dir() else []
    if as_json:
        print(json.dumps([r | {"report": p.name} for p, r in found], indent=2))
        return 0
    if not found:
        print(f"no profiles in {directory}")
        return 0
    print(f"{'taken at (UTC)':<22} {'metric':<10} {'value':>7} {'thr':>6} {'pid':>7}  top frame / report")
    for path, report in found:
        top = report.get("top") or []
        first = top[0]["function"] if isinstance(top, list) and top else "-"
        print(
            f"{report.get('taken_at', '?')!s:<22} {report.get('metric', '?')!s:<10} "
            f"{float(report.get('value', 0)):>7.3f} {float(report.get('threshold', 0)):>6.3g} "  # type: ignore[arg-type]
            f"{report.get('pid', '?')!s:>7}  {first}\n{'':<58}{path.name}"
        )
    return 0


def _print_top(name: str, profile: StackProfile, limit: int) -> None:
    index = profile.value_index()
    kind, unit = profile.sample_types[index] if profile.sample_types else ("?", "?")
    total = profile.total() or 1
    print(f"\n{name}\n  {kind} ({unit}), total {profile.total():,}")
    for comment in profile.comments:
        print(f"  # {comment}")
    print(f"  {'flat':>14} {'flat%':>6} {'cum%':>6}  function (file)")
    for row in profile.top(limit):
        print(
            f"  {row.flat:>14,} {100 * row.flat / total:>5.1f}% {100 * row.cumulative / total:>5.1f}%  "
            f"{row.function} ({row.filename})"
        )


def show_profile(directory: Path, name: str | None, *, top: int = 10) -> int:
    """A report (its summary and every profile's top frames), or one ``.pb.gz`` file."""
    if name is None:
        reports = report_files(directory) if directory.is_dir() else []
        if not reports:
            print(f"no profiles in {directory}", file=sys.stderr)
            return 1
        path = reports[-1]
    else:
        path = Path(name) if Path(name).exists() else directory / name
    if not path.exists():
        print(f"todostack profile show: no such report or profile: {name}", file=sys.stderr)
        return 1
    files = [path]
    if path.suffix == ".json":
        report = _load(path)
        if report is None:
            print(f"todostack profile show: {path} is not a report", file=sys.stderr)
            return 1
        print(path.name)
        print(
            f"  {report.get('metric')} = {report.get('value')}, threshold {report.get('threshold')}, measured "
            f"against the {report.get('scope')}; host {report.get('host')}, pid {report.get('pid')}"
        )
        for note in report.get("notes") or []:  # type: ignore[attr-defined]
            print(f"  note: {note}")
        listed = report.get("files") or []
        assert isinstance(listed, list)
        files = [directory / Path(f).name if not (path.parent / f).exists() else path.parent / f for f in listed]
        for f in files:
            if not f.name.endswith(".pb.gz"):
                print(f"  also: {f}")
    for f in files:
        if not f.name.endswith(".pb.gz"):
            continue
        try:
            _print_top(f.name, decode(f.read_bytes()), top)
        except (OSError, ProfileFormatError) as exc:
            print(f"\n{f.name}\n  unreadable: {exc}")
    return 0
