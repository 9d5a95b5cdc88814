"""The USDT provider without a tracer: loading, the off switch, the fallbacks, the statement parsing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from todostack.ebpf import build, probes, trace

pytestmark = pytest.mark.unit


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_statements_give_their_operation_and_table() -> None:
    assert probes.table_of("SELECT id FROM todos WHERE list_id = $1") == ("SELECT", "todos")
    assert probes.table_of('  insert into "users" (email) VALUES (?)') == ("INSERT", "users")
    assert probes.table_of("UPDATE lists SET title = $1") == ("UPDATE", "lists")
    assert probes.table_of("BEGIN") == ("BEGIN", "?")


def test_untraced_probes_are_off_and_cost_no_call() -> None:
    # Nobody traces this process: every semaphore reads 0 and every probe returns at once.
    assert not any(probes.enabled(name) for name in probes.PROBES)
    probes.request_start("GET", "/x", "id")
    probes.request_done("GET", "/x", 200, 0.001, None, "id")
    probes.db_start("sqlite", "SELECT 1 FROM t")
    probes.db_done("sqlite", "SELECT 1 FROM t", 0.001)
    probes.autoprof_report("cpu", 0.9)
    probes.memory_guard("collected", 1 << 20)
    probes.cancel("deadline_exceeded")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: the probes cannot be built here")
def test_the_library_builds_with_one_probe_note_per_probe(tmp_path: Path) -> None:
    library = build.build(tmp_path)
    assert library.name == build.library_name()
    data = library.read_bytes()
    assert b"stapsdt" in data  # the notes' owner
    for name in probes.PROBES:
        assert f"todostack_{name}_semaphore".encode() in data
        assert name.encode() in data
    assert build.build(tmp_path) == library  # built once


def test_importing_the_probes_loads_and_builds_nothing(tmp_path: Path) -> None:
    # No library anywhere, a compiler that would fail: an import alone must not try either.
    code = (
        "from todostack.ebpf import build\n"
        "build.package_dir = lambda: build.Path('/nonexistent')\n"
        "from todostack.ebpf import probes\n"
        "probes.request_start('GET', '/', 'x'); print(probes.status())"
    )
    done = _python(code, XDG_CACHE_HOME=str(tmp_path), CC="/bin/false")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "USDT probes not loaded"
    assert done.stderr == ""
    assert not any(tmp_path.rglob("*.so"))


_LOAD_FROM_SETTINGS = (
    "import os\n"
    "from todostack.runtime import Settings\n"
    "settings = Settings.from_env(os.environ)\n"
    "from todostack.ebpf import probes\n"
    "probes.load(settings.runtime.probes, settings.runtime.probes_library)\n"
)


def test_the_off_switch_loads_nothing_and_says_so_once() -> None:
    code = _LOAD_FROM_SETTINGS + "probes.request_start('GET', '/', 'x'); print(probes.status())"
    done = _python(code, TODOSTACK_PROBES="off")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "USDT probes off (TODOSTACK_PROBES=off)"
    assert done.stderr.count("USDT probes off") == 1


def test_a_library_named_in_the_settings_is_the_one_loaded(tmp_path: Path) -> None:
    code = _LOAD_FROM_SETTINGS + "print(probes.status())"
    done = _python(code, TODOSTACK_PROBES_LIB=str(tmp_path / "missing.so"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"USDT probes off: cannot load {tmp_path / 'missing.so'}")


def test_without_a_compiler_the_service_runs_with_probes_off(tmp_path: Path) -> None:
    # No library anywhere it looks (an empty cache, none beside the package), and a compiler that fails.
    code = (
        "from todostack.ebpf import build\n"
        "build.package_dir = lambda: build.Path('/nonexistent')\n"
        + _LOAD_FROM_SETTINGS
        + "probes.db_done('sqlite', 'SELECT 1', 0.1); print(probes.status()); print(probes.enabled('cancel'))"
    )
    done = _python(code, XDG_CACHE_HOME=str(tmp_path), CC="/bin/false")
    assert done.returncode == 0, done.stderr
    status, enabled = done.stdout.splitlines()
    assert status.startswith("USDT probes off: /bin/false failed")
    assert enabled == "False"
    assert done.stderr.count("USDT probes off") == 1


def test_the_trace_scripts_each_answer_a_question() -> None:
    names = trace.scripts()
    assert set(names) == {"requests", "db", "fdatasync", "runqueue", "gc", "pgchurn", "syscalls", "guards"}
    for name, path in names.items():
        text = path.read_text()
        assert text.startswith("// "), name
        assert "$1" in text, f"{name} takes the worker's pid"
        assert "Tracing" in text, f"{name}'s BEGIN says it is attached"


def test_the_gc_script_aims_at_the_libpython_this_process_maps() -> None:
    library = trace.libpython(os.getpid())
    if library is None:
        pytest.skip("this Python is a static build: no libpython to put uprobes on")
    argv = trace.command("gc", os.getpid())
    assert argv[:3] == ["bpftrace", "-p", str(os.getpid())]
    assert f"uprobe:{library}:gc_collect_main" in argv[4]
    assert "LIBPYTHON" not in argv[4]


def test_cpu_stat_reads_this_process_cgroup() -> None:
    found = trace.cpu_stat(os.getpid())
    if found is None:
        pytest.skip("no cpu controller readable here")
    _, values = found
    assert "nr_throttled" in values
