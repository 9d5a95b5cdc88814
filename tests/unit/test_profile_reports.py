"""Reports on disk: the directory reporter's files and pruning, and ``todostack profile list|show``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_profiles import cpu_profile
from todostack.entrypoints.cli import main
from todostack.profiling.pprof import decode
from todostack.profiling.report import Breach, Report
from todostack.profiling.reporters import DirectoryReporter

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """``main`` configures logging for a command-line run; later tests must not inherit it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def report(at: float, pid: int = 4242) -> Report:
    return Report(Breach("cpu", 0.91, 0.75, "cgroup"), cpu_profile(), None, None, pid, host="box", taken_at=at)


def test_directory_reporter_writes_autopprof_style_names_and_a_summary(tmp_path: Path) -> None:
    DirectoryReporter(tmp_path).send(report(1_795_000_000.25))
    names = sorted(p.name for p in tmp_path.iterdir())
    stamp = "20261118T110640.250Z"
    assert names == [
        f"flamegraph.todostack.box.4242.cpu.{stamp}.svg",
        f"pprof.todostack.box.4242.samples.cpu.{stamp}.pb.gz",
        f"report.todostack.box.4242.{stamp}.json",
    ]
    summary = json.loads((tmp_path / f"report.todostack.box.4242.{stamp}.json").read_text())
    assert summary["metric"] == "cpu"
    assert summary["top"][0]["function"] == "parse_row"
    assert decode((tmp_path / f"pprof.todostack.box.4242.samples.cpu.{stamp}.pb.gz").read_bytes()).total() > 0


def test_directory_reporter_keeps_only_the_newest_reports(tmp_path: Path) -> None:
    reporter = DirectoryReporter(tmp_path, keep=2)
    for i in range(4):
        reporter.send(report(1_795_000_000 + i * 60))
    reports = sorted(tmp_path.glob("report.*.json"))
    assert len(reports) == 2
    assert len(list(tmp_path.glob("pprof.*"))) == 2  # the old reports' profiles went with them


def test_profile_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    DirectoryReporter(tmp_path).send(report(1_795_000_000))
    DirectoryReporter(tmp_path).send(report(1_795_000_100, pid=77))
    assert main(["profile", "list", "--dir", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert listed.count("parse_row") == 2
    assert "4242" in listed
    assert "report.todostack.box.77." in listed

    assert main(["profile", "list", "--dir", str(tmp_path), "--json"]) == 0
    assert [r["pid"] for r in json.loads(capsys.readouterr().out)] == [4242, 77]

    assert main(["profile", "show", "--dir", str(tmp_path), "--top", "2"]) == 0  # the latest report
    shown = capsys.readouterr().out
    assert "pid 77" in shown
    assert "parse_row" in shown
    assert "list_todos" in shown
    assert "<&>" not in shown  # only the top 2

    one = next(tmp_path.glob("pprof.*.pb.gz"))
    assert main(["profile", "show", str(one)]) == 0
    assert "parse_row" in capsys.readouterr().out
    assert main(["profile", "show", "--dir", str(tmp_path), "nothing-here.json"]) == 1


def test_profile_list_of_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "list", "--dir", str(tmp_path / "none")]) == 0
    assert "no profiles" in capsys.readouterr().out
