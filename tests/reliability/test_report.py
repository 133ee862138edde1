"""``scripts/reliability_report.py``: the latest session per database, the aggregation and the marked table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("reliability_report", ROOT / "scripts" / "reliability_report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def _row(scenario, database, session, stamp, **figures):
    base = {
        "scenario": scenario, "fault": "f", "database": database, "session": session, "recorded_at": stamp,
        "leads": 50, "records_expected": 100, "records_actual": 100, "followups_expected": 50,
        "followups_actual": 50, "duplicates": 0, "lost": 0, "mismatches": 0, "fault_felt": 3,
        "outcome": "held", "recovered": True,
    }
    return {**base, **figures}


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_latest_session_per_database_is_counted(tmp_path, capsys):
    rows = [
        _row("LLM down", "SQLite", "old", "2026-01-01T00:00:00", outcome="lost", recovered=False, lost=2),
        _row("LLM down", "SQLite", "new", "2026-01-02T00:00:00"),
        _row("LLM down", "PostgreSQL", "pg", "2026-01-01T00:00:00"),
        _row("provider 503 bursts", "PostgreSQL", "pg", "2026-01-01T00:00:01"),
    ]
    path = _write(tmp_path / "r.jsonl", rows)
    assert report.main(["--results", str(path)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0] for line in lines] == ["| provider 503 bursts", "| LLM down", "| LLM down"]
    assert "3 scenario runs: 3 held" in out
    # Counting every session brings the old failed run back, and the exit status says so.
    assert report.main(["--results", str(path), "--all-sessions"]) == 1
    out = capsys.readouterr().out
    assert "held 1/2, lost 1/2" in out and "no (1/2)" in out


def test_duplicates_are_reported_and_fail(tmp_path, capsys):
    path = _write(tmp_path / "r.jsonl", [_row("LLM slow", "SQLite", "s", "t", outcome="duplicated", duplicates=1)])
    assert report.main(["--results", str(path)]) == 1
    assert "duplicated 1/1" in capsys.readouterr().out


def test_write_replaces_only_the_marked_table(tmp_path):
    path = _write(tmp_path / "r.jsonl", [_row("LLM garbage output", "PostgreSQL", "s", "t")])
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\n{report.START}\nold table\n{report.END}\n\n## After\n", encoding="utf-8")
    assert report.main(["--results", str(path), "--write", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\n") and text.endswith(f"{report.END}\n\n## After\n")
    assert "old table" not in text and "| LLM garbage output | PostgreSQL | 1 | 50 | 100 / 100 | 50 / 50 | 0 | 0 | 3 | held 1/1 | yes (1/1) |" in text
