"""The sample lead sheet (``sample_leads.xlsx``) in the predecessor's layout, for the import tests and demos.

Regenerate with ``.venv/bin/python tests/data/sample_leads.py``. All people are invented (170/171 numbers).
Expected import into an empty organization: 6 rows imported, 1 duplicate skipped, 2 errors (rows 9 and 10).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

HEADER = ["leads_id", "leads_user_name", "leads_user_phone", "leads_product", "leads_type", "leads_create_time"]
ROWS = [
    ["LEAD001", "张伟", 17000000001, "星越L", "H级", dt.datetime(2025, 11, 1, 9, 30)],
    ["LEAD002", "王芳", 17000000002.0, "领克06", "A级", "2025-11-02 10:00:00"],  # a float cell (Excel numbers)
    ["LEAD003", "李娜", "170-0000-0003", "银河E8", "B级", "2025/11/03"],
    ["LEAD004", "刘洋", "+86 171 0000 0004", "星越L", "C级", None],
    [1005, "陈静", "17100000005", "帝豪", "N级", dt.date(2025, 11, 5)],  # a numeric lead id
    ["LEAD006", "杨磊", 17100000006, "博越L", "H级", "2025-11-06"],
    ["LEAD001", "张伟", 17000000001, "星越L", "H级", None],  # row 8: duplicate of row 2 → skipped
    ["LEAD008", "赵敏", "12345", "星越L", "A级", None],  # row 9: invalid phone → error
    ["", "无编号", 17100000009, "星越L", "A级", None],  # row 10: no lead id → error
]
PATH = Path(__file__).with_name("sample_leads.xlsx")


def write_sample_leads(path: Path = PATH) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "线索"
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    workbook.save(path)
    return path


if __name__ == "__main__":
    print(write_sample_leads())
