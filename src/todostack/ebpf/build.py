"""Build ``libtodostack_probes.so`` from ``probes.c`` (a C compiler and ``sys/sdt.h`` are needed).

Two places, looked for in this order by ``probes.py``:

* next to this file, as ``_build/libtodostack_probes-<hash>.so``: ``make ebpf-probes`` (which runs
  ``python -m todostack.ebpf.build``) builds it at install time;
* ``$XDG_CACHE_HOME/todostack/`` (default ``~/.cache/todostack/``): built on first use when the
  package's own folder has none (a wheel installed elsewhere), if the tools are there.

The file name carries a hash of the C source, so a library built from another version is never
loaded. Each build writes a temporary file and renames it into place: workers starting together
never see half a library.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["SOURCE", "BuildError", "build", "cache_dir", "library_name", "package_dir"]

SOURCE = Path(__file__).resolve().with_name("probes.c")


class BuildError(Exception):
    """Why the library could not be built (one line, for the log)."""


def library_name() -> str:
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    return f"libtodostack_probes-{digest}.so"


def package_dir() -> Path:
    return SOURCE.parent / "_build"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "todostack"


def build(directory: Path) -> Path:
    """Compile into ``directory`` (unless already there); the library's path."""
    target = directory / library_name()
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BuildError("no C compiler (cc) to build the USDT probes (apt-get install gcc systemtap-sdt-dev)")
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=directory)
    os.close(fd)
    try:
        done = subprocess.run(  # noqa: S603  # the compiler found above, our own source
            [compiler, "-O2", "-fPIC", "-shared", "-Wall", "-o", temporary, str(SOURCE)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
            if "sdt.h" in done.stderr:
                raise BuildError("sys/sdt.h is missing (apt-get install systemtap-sdt-dev)")
            raise BuildError(f"{compiler} failed: {first}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else package_dir()
    try:
        path = build(directory)
    except (BuildError, OSError, subprocess.SubprocessError) as exc:
        print(f"todostack.ebpf: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
