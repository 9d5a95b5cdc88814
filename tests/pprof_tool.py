"""``go tool pprof`` as the judge of the profile format (Debian's golang-go; `make test` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pg import in_ci


def go() -> str:
    found = shutil.which("go") or ("/usr/bin/go" if Path("/usr/bin/go").exists() else None)
    if found is None:
        if in_ci():
            pytest.fail("go tool pprof is needed in CI: make test installs golang-go", pytrace=False)
        pytest.skip("SKIPPING: no go tool pprof (apt-get install golang-go, or make test)")
    return found


def pprof_top(path: Path, *extra: str) -> list[tuple[str, str]]:
    """``go tool pprof -top``: (flat value, function) rows, largest flat first."""
    done = subprocess.run(
        [go(), "tool", "pprof", "-top", "-nodecount=20", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": os.environ.get("HOME") or str(path.parent), "PPROF_TMPDIR": str(path.parent)},
    )
    assert done.returncode == 0, f"go tool pprof refused {path.name}:\n{done.stderr}"
    rows = []
    in_table = False
    for line in done.stdout.splitlines():
        if line.strip().startswith("flat"):
            in_table = True
            continue
        if in_table and line.strip():
            fields = line.split(None, 5)
            rows.append((fields[0], fields[5] if len(fields) > 5 else ""))
    assert rows, f"go tool pprof listed nothing for {path.name}:\n{done.stdout}\n{done.stderr}"
    return rows
