"""CSV downloads that spreadsheets cannot mistake for formulas, saying how fresh they are."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC

from flask import Response

from services.freshness import Freshness

FRESHNESS_HEADER = "X-Data-Freshness"
BOM = "\ufeff"

# A cell starting with one of these runs as a formula in Excel, LibreOffice and Sheets,
# also after blanks, and in their full-width forms, which NFKC maps to these.
_FORMULA_SIGNS = ("=", "+", "-", "@")
# OWASP's list of dangerous cell starts also has these, whatever follows them.
_CONTROL_START = ("\t", "\r", "\n")


def _visible(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    skip = 0
    while skip < len(text) and (
        text[skip].isspace() or unicodedata.category(text[skip]) in ("Cc", "Cf")
    ):
        skip += 1
    return text[skip:]


def neutralise(cell: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(cell, str) and (
        cell.startswith(_CONTROL_START) or _visible(cell).startswith(_FORMULA_SIGNS)
    ):
        return "'" + cell
    return cell


def freshness_value(freshness: Freshness) -> str:
    """Return `fresh` or `stale`, when fetched (UTC) and, if stale, why: one ASCII line."""
    parts = ["stale" if freshness.stale else "fresh"]
    if freshness.fetched_at is not None:
        when = freshness.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"fetched-at={when}")
    if freshness.stale:
        reason = " / ".join(freshness.stale_reasons)
        parts.append(f'reason="{_quotable(reason)}"')
    if freshness.caveats:
        parts.append(f'caveat="{_quotable(" / ".join(freshness.caveats))}"')
    return "; ".join(parts)


def _quotable(text: str) -> str:
    # Printable ASCII only, and nothing that would end the quoted value or the part.
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text.replace("\\", "/").replace('"', "'").replace(";", ",")[:300]


def csv_response(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    filename: str,
    *,
    freshness: Freshness,
) -> Response:
    """Return rows as a CSV attachment, with how fresh they are in X-Data-Freshness.

    The text starts with a UTF-8 byte-order mark: without it Excel reads the file in the
    system's code page and garbles non-ASCII ids (read it back with encoding utf-8-sig).
    """
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response.headers[FRESHNESS_HEADER] = freshness_value(freshness)
    return response
