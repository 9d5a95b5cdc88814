"""The test suite's own guards (Go's race/blocking checks, in Python) really catch what they promise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parents[1]

INNER_TESTS = """
import asyncio
import time


async def test_blocks_the_loop():
    await asyncio.sleep(0)
    time.sleep(0.15)  # a synchronous call inside a coroutine: the loop stalls
    await asyncio.sleep(0)


async def test_forgets_to_await():
    async def work():
        return 1

    work()  # never awaited
    await asyncio.sleep(0)


async def test_well_behaved():
    await asyncio.sleep(0.01)
"""

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_debug = true
filterwarnings = error
addopts = -p no:cacheprovider
"""


def test_blocking_and_unawaited_coroutines_fail_the_run(tmp_path: Path) -> None:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tests").mkdir()  # what the conftest imports, as `tests.loopwatch`
    (tmp_path / "tests" / "__init__.py").write_text("")
    shutil.copy(TESTS / "loopwatch.py", tmp_path / "tests" / "loopwatch.py")
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "pytest.ini").write_text(INI)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    out = done.stdout
    assert done.returncode == 1, out
    assert "the event loop was blocked" in out
    assert "was never awaited" in out
    assert "PASSED test_inner.py::test_well_behaved" in out
