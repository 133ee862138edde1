"""The committed Simplified Chinese catalog (locale/zh_Hans) is complete, compiled, and covers the code.

Supervisors read the admin, the API messages and the monitor's logs in Chinese; the code holds English
gettext msgids. These tests keep the catalog honest without running ``makemessages``:

* every entry of ``django.po`` is translated and none is fuzzy;
* the committed ``django.mo`` says exactly what ``django.po`` says (``make run`` must not need gettext);
* the strings the seeds show come out word for word;
* every literal msgid in the code is in the catalog (a new ``_("...")`` without a translation fails here).
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

BASE_DIR = Path(settings.BASE_DIR)
LC_MESSAGES = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

#: Directories scanned for gettext calls (tests/, .venv/ and var/ are not part of the catalog).
SOURCE_DIRS = ["calltasks", "followups", "dcc_project", "templates"]

# --- A small .po parser ------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # index -> text; singular entries use 0
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    line: int = 0

    @property
    def key(self) -> str:
        """The key gettext uses in a .mo: ``context\\x04msgid``."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_KEYWORD_RE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(literal: str, where: str) -> str:
    literal = literal.strip()
    assert len(literal) >= 2 and literal[0] == literal[-1] == '"', f"{where}: not a quoted string: {literal!r}"
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1 : i + 2]
            assert nxt in _ESCAPES, f"{where}: unknown escape \\{nxt}"
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            assert ch != '"', f"{where}: unescaped quote in {literal!r}"
            out.append(ch)
            i += 1
    return "".join(out)


def parse_po(text: str) -> list[Entry]:
    """Entries of a .po file (the header is the entry with msgid ""); multi-line strings and plurals."""
    entries: list[Entry] = []
    cur: Entry | None = None
    seen: set[str] = set()  # keywords read for the current entry
    target: tuple[str, int] | None = None  # the field a continuation line extends

    def start(lineno: int) -> Entry:
        nonlocal cur, seen, target
        cur, seen, target = Entry(msgid="", line=lineno), set(), None
        entries.append(cur)
        return cur

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"django.po:{lineno}"
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if line.startswith("|"):  # previous msgid of an obsolete fuzzy entry
                continue
        elif line.startswith("#"):
            if cur is None or seen:
                start(lineno)
            if line.startswith("#,"):
                cur.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        if not line:
            continue
        match = _KEYWORD_RE.match(line)
        if match:
            keyword, index, literal = match.groups()
            if cur is None or (keyword == "msgctxt" and seen) or (keyword == "msgid" and seen - {"msgctxt"}):
                start(lineno)
            seen.add("msgstr" if keyword.startswith("msgstr") else keyword)
            cur.obsolete = cur.obsolete or obsolete
            value = _unquote(literal, where)
            if keyword.startswith("msgstr"):
                idx = int(index) if index is not None else 0
                cur.msgstr[idx], target = value, ("msgstr", idx)
            else:
                setattr(cur, keyword, value)
                target = (keyword, 0)
            continue
        assert line.startswith('"') and cur is not None and target is not None, f"{where}: unexpected line {raw!r}"
        value = _unquote(line, where)
        name, idx = target
        if name == "msgstr":
            cur.msgstr[idx] += value
        else:
            setattr(cur, name, (getattr(cur, name) or "") + value)
    return entries


@cache
def po_entries() -> tuple[Entry, ...]:
    return tuple(parse_po(PO_PATH.read_text(encoding="utf-8")))


def header() -> Entry:
    found = [e for e in po_entries() if e.msgid == "" and e.msgctxt is None and not e.obsolete]
    assert len(found) == 1, "django.po must have exactly one header entry"
    return found[0]


def messages() -> list[Entry]:
    return [e for e in po_entries() if not e.obsolete and not (e.msgid == "" and e.msgctxt is None)]


@cache
def catalog() -> dict[str, Entry]:
    return {e.key: e for e in messages()}


# --- (a) the catalog is complete ------------------------------------------------------------------------


def test_parser_reads_multiline_plural_and_context_entries():
    sample = "\n".join(
        [
            'msgid ""',
            'msgstr ""',
            '"Language: zh_Hans\\n"',
            "",
            "#, python-format",
            'msgid ""',
            '"%(count)d leads match, "',
            '"more than %(cap)d."',
            'msgstr "共 %(count)d 条，超过 %(cap)d 条。"',
            "",
            'msgctxt "interest"',
            'msgid "one lead"',
            'msgid_plural "%(n)s leads"',
            'msgstr[0] "%(n)s 条线索"',
            '#~ msgid "old"',
            '#~ msgstr "旧"',
        ]
    )
    head, multi, plural, old = parse_po(sample)
    assert head.msgid == "" and head.msgstr[0] == "Language: zh_Hans\n"
    assert multi.msgid == "%(count)d leads match, more than %(cap)d." and "python-format" in multi.flags
    assert plural.key == "interest\x04one lead" and plural.msgid_plural == "%(n)s leads"
    assert plural.msgstr == {0: "%(n)s 条线索"}
    assert old.obsolete and old.msgstr[0] == "旧"


def test_header_is_valid_for_simplified_chinese():
    head = header()
    assert "fuzzy" not in head.flags
    fields = dict(line.split(": ", 1) for line in head.msgstr[0].splitlines() if ": " in line)
    assert fields.get("Language") == "zh_Hans"
    assert fields.get("Plural-Forms", "").replace(" ", "") == "nplurals=1;plural=0;"
    assert "charset=UTF-8" in fields.get("Content-Type", "")


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = messages()
    assert len(entries) > 100, "the catalog looks truncated"
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy entries (check the translation, then remove the flag): {fuzzy}"
    empty = [e.msgid for e in entries if not e.msgstr or any(not text.strip() for text in e.msgstr.values())]
    assert not empty, f"untranslated entries: {empty}"
    plural_gaps = [e.msgid for e in entries if e.msgid_plural is not None and sorted(e.msgstr) != [0]]
    assert not plural_gaps, f"plural entries need exactly msgstr[0] (nplurals=1): {plural_gaps}"
    duplicates = len(entries) - len({e.key for e in entries})
    assert duplicates == 0, "duplicate msgids in django.po"


_PY_PLACEHOLDER_RE = re.compile(r"%(?:\((\w+)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")
_BRACE_PLACEHOLDER_RE = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def _placeholders(text: str, flags: set[str]) -> list[str]:
    found: list[str] = []
    if "python-format" in flags:
        found += sorted(f"%({name}){conv}" if name else f"%{conv}" for name, conv in _PY_PLACEHOLDER_RE.findall(text))
    if "python-brace-format" in flags:
        found += sorted("{" + name + "}" for name in _BRACE_PLACEHOLDER_RE.findall(text))
    return found


def test_translations_keep_the_placeholders_of_their_msgid():
    wrong = []
    for entry in messages():
        expected = _placeholders(entry.msgid, entry.flags)
        for text in entry.msgstr.values():
            got = _placeholders(text, entry.flags)
            named = any("(" in p for p in expected)
            # Positional %s must match in order and number; named ones as a multiset (order may change).
            if (sorted(got) if named else got) != (sorted(expected) if named else expected):
                wrong.append((entry.msgid, text))
    assert not wrong, f"placeholders differ between msgid and msgstr: {wrong}"


# --- (b) the committed .mo matches the .po ------------------------------------------------------------


def _expected_mo_catalog() -> dict[object, str]:
    expected: dict[object, str] = {}
    for entry in messages():
        if entry.msgid_plural is None:
            expected[entry.key] = entry.msgstr[0]
        else:
            for idx, text in entry.msgstr.items():
                expected[(entry.key, idx)] = text
    return expected


def _load_mo(path: Path) -> gettext.GNUTranslations:
    with path.open("rb") as fp:
        return gettext.GNUTranslations(fp)


def test_committed_mo_translates_every_po_entry():
    """Needs no tool: load the committed .mo with the stdlib and compare it with the .po, both ways."""
    assert MO_PATH.exists(), "locale/zh_Hans/LC_MESSAGES/django.mo is missing: run manage.py compilemessages"
    mo = _load_mo(MO_PATH)
    mismatches = []
    for entry in messages():
        if entry.msgid_plural is None:
            got = mo.gettext(entry.msgid) if entry.msgctxt is None else mo.pgettext(entry.msgctxt, entry.msgid)
            if got != entry.msgstr[0]:
                mismatches.append((entry.msgid, entry.msgstr[0], got))
        else:
            for n in (1, 2, 5):
                if entry.msgctxt is None:
                    got = mo.ngettext(entry.msgid, entry.msgid_plural, n)
                else:
                    got = mo.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                if got != entry.msgstr[0]:
                    mismatches.append((entry.msgid, entry.msgstr[0], got))
    assert not mismatches, f"django.mo is stale, run manage.py compilemessages: {mismatches[:10]}"
    stale = set(mo._catalog) - set(_expected_mo_catalog()) - {""}
    assert not stale, f"django.mo holds msgids that django.po no longer has (recompile): {sorted(map(str, stale))[:10]}"
    assert mo.info().get("language") == "zh_Hans"
    assert mo.plural(1) == mo.plural(7) == 0


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
def test_po_compiles_cleanly_and_equals_the_committed_mo(tmp_path):
    compiled = tmp_path / "django.mo"
    result = subprocess.run(  # same flags as manage.py compilemessages, plus header/format checks
        [shutil.which("msgfmt"), "--check", "-o", str(compiled), str(PO_PATH)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, f"msgfmt --check failed:\n{result.stderr}"
    fresh, committed = _load_mo(compiled), _load_mo(MO_PATH)
    assert fresh._catalog == committed._catalog, "django.mo differs from django.po: run manage.py compilemessages"


# --- (c) the seeds' wording comes out exactly -------------------------------------------------------------

#: English msgid in the code -> the seed's Chinese, word for word (seed 000 monitor logs and API, seed 002).
SEED_STRINGS = {
    # seed 000, monitor log lines
    "Automated task monitor started": "自动化任务监控器已启动",
    "Automated task monitor stopped": "自动化任务监控器已停止",
    "Automated task monitoring switched on by %(by)s": "自动化任务监控器已启动 (操作人: %(by)s)",
    "Automated task monitoring switched off by %(by)s": "自动化任务监控器已停止 (操作人: %(by)s)",
    "Checking task: %(name)s (ID: %(id)s)": "检查任务: %(name)s (ID: %(id)s)",
    "Follow-up records for task %(id)s created successfully (%(count)d)": "任务 %(id)s 的跟进记录创建成功 (%(count)d 条)",
    "Task %(name)s (ID: %(id)s): every lead followed up, state updated to 4": (
        "任务 %(name)s (ID: %(id)s) 所有线索跟进完成，状态更新为4"
    ),
    # seed 000 /auto-task and seed 002 /check_task_completion API messages
    "Automatic task monitoring started": "自动化任务监控已启动",
    "Automatic task monitoring stopped": "自动化任务监控已停止",
    "The task is complete: every call was connected": "任务已完成，所有通话都已接通",
}

#: Seed strings every build must have (the rest are checked once their code exists).
REQUIRED_SEED_MSGIDS = {
    "Checking task: %(name)s (ID: %(id)s)",
    "Task %(name)s (ID: %(id)s): every lead followed up, state updated to 4",
}


def test_required_seed_msgids_are_in_the_catalog():
    missing = sorted(REQUIRED_SEED_MSGIDS - set(catalog()))
    assert not missing, f"seed strings missing from django.po: {missing}"


@pytest.mark.parametrize("msgid", sorted(SEED_STRINGS))
def test_seed_string_reads_exactly_as_in_the_seed(msgid):
    assert msgid in catalog(), f"seed string missing from django.po: {msgid!r}"
    with translation.override("zh-hans"):
        assert translation.gettext(msgid) == SEED_STRINGS[msgid]


def test_judge_failure_remark_is_the_specs_crm_text():
    """SPEC §6: stored as CRM data (not UI text), so it is a constant rather than a msgid."""
    from followups.judge import DEFAULT_REMARK

    assert DEFAULT_REMARK == "AI分析失败，需要人工跟进"


def test_seed_completion_log_line_renders_like_the_seed():
    msgid = "Task %(name)s (ID: %(id)s): every lead followed up, state updated to 4"
    with translation.override("zh-hans"):
        line = translation.gettext(msgid) % {"name": "测试任务", "id": 123}
    assert line == "任务 测试任务 (ID: 123) 所有线索跟进完成，状态更新为4"


def test_interest_and_task_state_labels_follow_the_glossary():
    expected = {
        "Interested": "有意向",
        "Not interested": "无意向",
        "Cannot tell": "无法判断",
        "Pending follow-up": "待跟进",
        "Created": "已创建",
        "Calls done": "外呼完成",
        "Follow-ups done": "跟进完成",
        "Paused": "已暂停",
        "No answer": "无人接听",
        "Busy": "忙线",
        "Powered off": "关机",
        "Connected": "已接通",
    }
    with translation.override("zh-hans"):
        got = {msgid: translation.gettext(msgid) for msgid in expected if msgid in catalog()}
    assert got == {msgid: text for msgid, text in expected.items() if msgid in got}
    assert len(got) >= 8, "the glossary's labels are missing from the catalog"


# --- (d) the catalog covers the code -------------------------------------------------------------------

#: Function name -> (index of msgctxt or None, index of msgid, index of msgid_plural or None), as
#: makemessages (xgettext --language=Python with Django's keywords) extracts them.
GETTEXT_FUNCTIONS = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}

_TEMPLATE_TRANS_RE = re.compile(
    r"""\{%\s*trans(?:late)?\s+(?P<q>["'])(?P<msgid>.*?)(?P=q)(?:\s+context\s+(?P<cq>["'])(?P<ctx>.*?)(?P=cq))?"""
)
_TEMPLATE_BLOCK_RE = re.compile(
    r"\{%\s*blocktrans(?:late)?(?P<args>[^%]*)%\}(?P<body>.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.S
)


def _source_files(suffixes: tuple[str, ...]) -> list[Path]:
    files = []
    for directory in SOURCE_DIRS:
        root = BASE_DIR / directory
        if root.is_dir():
            files += [
                p for p in root.rglob("*") if p.suffix in suffixes and p.is_file() and "__pycache__" not in p.parts
            ]
    return sorted(files)


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _python_msgids(path: Path) -> tuple[set[str], list[str]]:
    """Literal msgids of the gettext calls in one file, and the calls whose msgid is not a literal."""
    found: set[str] = set()
    problems: list[str] = []
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError:  # a file another engineer is halfway through writing
        return found, problems
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name not in GETTEXT_FUNCTIONS:
            continue
        ctx_i, id_i, _plural_i = GETTEXT_FUNCTIONS[name]
        if len(node.args) <= id_i:
            continue
        msgid = _literal(node.args[id_i])
        ctx = _literal(node.args[ctx_i]) if ctx_i is not None else None
        where = f"{path.relative_to(BASE_DIR)}:{node.lineno}"
        if msgid is None or (ctx_i is not None and ctx is None):
            if isinstance(node.args[id_i], ast.JoinedStr):
                problems.append(f"{where}: f-string passed to {name}() cannot be translated")
            continue
        found.add(msgid if ctx is None else f"{ctx}\x04{msgid}")
    return found, problems


def _template_msgids(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = {
        m["msgid"] if m["ctx"] is None else f"{m['ctx']}\x04{m['msgid']}" for m in _TEMPLATE_TRANS_RE.finditer(text)
    }
    for block in _TEMPLATE_BLOCK_RE.finditer(text):
        args, body = block["args"], block["body"]
        # Conservative: only simple blocks (no plural, no context, no nested tags, no literal %).
        if any(word in args.split() for word in ("count", "context", "with", "asvar")) or "{%" in body or "%" in body:
            continue
        body = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", body)
        if "trimmed" in args.split():
            body = " ".join(line.strip() for line in body.splitlines() if line.strip())
        found.add(body)
    return found


@cache
def _scan() -> tuple[frozenset[str], tuple[str, ...]]:
    msgids: set[str] = set()
    problems: list[str] = []
    for path in _source_files((".py",)):
        found, bad = _python_msgids(path)
        msgids |= found
        problems += bad
    for path in _source_files((".html", ".txt")):
        msgids |= _template_msgids(path)
    return frozenset(msgids), tuple(problems)


def code_msgids() -> frozenset[str]:
    return _scan()[0]


def test_scanner_finds_the_known_call_status_labels():
    msgids = code_msgids()
    assert {"No answer", "Connected: customer hung up", "task name"} <= msgids


def test_every_msgid_in_the_code_is_translated():
    known = catalog()
    missing = sorted(m for m in code_msgids() if m not in known)
    assert not missing, (
        "msgids in the code but not in locale/zh_Hans/LC_MESSAGES/django.po; run manage.py makemessages -l zh_Hans "
        f"--ignore=.venv --ignore=var --ignore=tests, translate, then compilemessages: {missing}"
    )
    untranslated = sorted(m for m in code_msgids() if not all(t.strip() for t in known[m].msgstr.values()))
    assert not untranslated, f"msgids without a translation: {untranslated}"
