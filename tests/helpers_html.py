"""Reading pages as a person does: a table's rows, a fragment's words. Markup inside a cell
(a link, a date kept on one line, a label for phones) is not part of what it says."""

from __future__ import annotations

import re
from html import unescape

_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
# Cells never nest in the app's tables, so the first closing tag of the kind ends a cell.
_CELL = re.compile(r"<t([hd])\b[^>]*>(.*?)</t\1>", re.S)


def text(fragment: str) -> str:
    """The words of an HTML fragment: tags dropped, entities read."""
    return unescape(re.sub(r"<[^>]+>", "", fragment))


def body_rows(html: str, table_id: str) -> list[list[str]]:
    """The inner HTML of each cell of each row that has a row header, in the table `table_id`;
    [] when the page has no such table."""
    table = re.search(rf'<table id="{re.escape(table_id)}"[^>]*>(.*?)</table>', html, re.S)
    if table is None:
        return []
    return [
        [cell for _, cell in _CELL.findall(row)]
        for row in _ROW.findall(table.group(1))
        if '<th scope="row">' in row
    ]
