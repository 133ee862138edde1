#!/usr/bin/env python3
"""Render the fault suite's result rows (``tests/reliability``) as the markdown table of docs/reliability.md.

    python scripts/reliability_report.py                       # print the table of the latest run per database
    python scripts/reliability_report.py --results var/reliability/soak.jsonl --write docs/reliability.md

Input: JSON lines written by the suite (one per scenario run; default ``var/reliability/results.jsonl``,
or ``RELIABILITY_RESULTS``). By default only the latest pytest session of each database is counted (a
``make test`` writes one SQLite and one PostgreSQL session); ``--all-sessions`` counts every row.
``--write FILE`` replaces the text between ``<!-- reliability-table:start -->`` and
``<!-- reliability-table:end -->`` in FILE. Exit status 1 when any counted run was not "held" and
recovered (so the command can gate a soak job). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "<!-- reliability-table:start -->"
END = "<!-- reliability-table:end -->"
ORDER = [
    "provider 503 bursts",
    "provider throttling",
    "provider slow responses",
    "provider malformed JSON",
    "provider 200 + Success:false",
    "provider dropped connections",
    "LLM down",
    "LLM slow",
    "LLM garbage output",
    "LLM dropped connections",
    "monitor SIGKILLed mid-pass",
    "database connection dropped mid-pass",
    "two monitors + qcluster at once",
]
SUMMED = (
    "leads",
    "records_expected",
    "records_actual",
    "followups_expected",
    "followups_actual",
    "duplicates",
    "lost",
    "mismatches",
    "fault_felt",
)


def default_results() -> Path:
    explicit = os.environ.get("RELIABILITY_RESULTS")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("DCC_VAR_DIR") or ROOT / "var") / "reliability" / "results.jsonl"


def load(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            print(f"{path}:{number}: not JSON, skipped", file=sys.stderr)
    return rows


def latest_sessions(rows: list[dict]) -> list[dict]:
    """Rows of the most recent session of each database."""
    latest: dict[str, str] = {}
    for row in rows:
        database, stamp = row.get("database", "?"), row.get("recorded_at", "")
        if stamp >= latest.get(database + "#stamp", ""):
            latest[database + "#stamp"] = stamp
            latest[database] = row.get("session", "")
    return [row for row in rows if row.get("session") == latest.get(row.get("database", "?"))]


def aggregate(rows: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row.get("scenario", "?"), row.get("database", "?"))
        group = groups.setdefault(
            key,
            {"scenario": key[0], "database": key[1], "fault": row.get("fault", ""), "runs": 0, "recovered": 0,
             "outcomes": defaultdict(int), **{name: 0 for name in SUMMED}},
        )
        group["runs"] += 1
        group["recovered"] += int(bool(row.get("recovered")))
        group["outcomes"][row.get("outcome", "error")] += 1
        for name in SUMMED:
            group[name] += int(row.get(name) or 0)
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(groups.values(), key=lambda g: (rank.get(g["scenario"], len(ORDER)), g["scenario"], g["database"]))


def verdict(group: dict) -> str:
    outcomes = group["outcomes"]
    parts = [f"{name} {outcomes[name]}/{group['runs']}" for name in ("held", "lost", "duplicated", "error") if outcomes[name]]
    return ", ".join(parts)


def render(groups: list[dict]) -> str:
    lines = [
        "| Fault | DB | Runs | Leads | Call records expected / stored | Follow-ups expected / stored "
        "| Duplicated | Lost | Fault hits | Result | Recovered |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for g in groups:
        lines.append(
            f"| {g['scenario']} | {g['database']} | {g['runs']} | {g['leads']} "
            f"| {g['records_expected']} / {g['records_actual']} | {g['followups_expected']} / {g['followups_actual']} "
            f"| {g['duplicates']} | {g['lost'] + g['mismatches']} | {g['fault_felt']} | {verdict(g)} "
            f"| {'yes' if g['recovered'] == g['runs'] else 'no'} ({g['recovered']}/{g['runs']}) |"
        )
    total_runs = sum(g["runs"] for g in groups)
    held = sum(g["outcomes"]["held"] for g in groups)
    recovered = sum(g["recovered"] for g in groups)
    lines.append("")
    lines.append(f"{total_runs} scenario runs: {held} held (nothing lost, nothing duplicated), {recovered} recovered.")
    return "\n".join(lines) + "\n"


def write_into(path: Path, table: str, source: str) -> None:
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} … {END} markers")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n<!-- generated by scripts/reliability_report.py from {source} -->\n\n{table}\n{END}{tail}",
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None, help="JSON-lines file (default: %(default)s)")
    parser.add_argument("--all-sessions", action="store_true", help="count every row, not only the latest session")
    parser.add_argument("--write", type=Path, default=None, help="replace the marked table in this markdown file")
    args = parser.parse_args(argv)
    path = args.results or default_results()
    if not path.exists():
        print(f"no results at {path}: run `pytest tests/reliability` first", file=sys.stderr)
        return 2
    rows = load(path)
    if not args.all_sessions:
        rows = latest_sessions(rows)
    groups = aggregate(rows)
    table = render(groups)
    if args.write:
        try:
            source = path.resolve().relative_to(ROOT)
        except ValueError:
            source = path
        write_into(args.write, table, str(source))
        print(f"wrote the table of {len(rows)} runs into {args.write}")
    else:
        print(table, end="")
    bad = [g for g in groups if g["outcomes"]["held"] != g["runs"] or g["recovered"] != g["runs"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
