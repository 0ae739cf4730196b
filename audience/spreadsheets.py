"""Spreadsheet formulas in exported cells: the one definition of how a text cell is neutralised
(and how an import undoes it), for every export (People, Do Not Contact, rejected rows) and for
the SQL that builds the PostgreSQL exports.

A spreadsheet runs a cell starting with = + - @ (or a tab/CR) as a formula. In CSV such a cell
gets a leading apostrophe — a phone `+385 91…` too, which Excel would otherwise turn into a
number or a formula error. So that the importer can take exactly that apostrophe off again, a
cell that already starts with apostrophes followed by one of those characters gets one more:
export adds one to `^'*[=+-@\\t\\r]`, import removes one from `^'+[=+-@\\t\\r]`, and a CSV that
Audience exported imports unchanged. Numbers (int, float, JSON numbers) are written as numbers
and never neutralised. In .xlsx text is an inline string, which can't be a formula: it is written
as it is, with the quotePrefix style (Excel's own "text typed with an apostrophe") where it looks
like one.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_CHARS = frozenset("=+-@\t\r")
_QUOTE_NEEDED = re.compile(r"'*[=+\-@\t\r]")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")
# The same tests in PostgreSQL (ascii() first: most cells stop there, before any regex).
_ASCII = "61, 43, 45, 64, 9, 13"
_SQL_QUOTED_TAIL = "^''+[-=+@\\t\\r]"  # in a SQL literal: ' doubled; \t \r are the regex's escapes


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would run this text (or it is one apostrophe away from it)."""
    return bool(text) and (
        text[0] in FORMULA_CHARS or (text[0] == "'" and _QUOTE_NEEDED.match(text) is not None)
    )


def cell_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not execute: text that `formula_like` gets a leading `'`."""
    if (
        type(value) is str
        and value
        and (value[0] in FORMULA_CHARS or (value[0] == "'" and _QUOTE_NEEDED.match(value)))
    ):
        return "'" + value
    return value


def cell_unquote(text: str) -> str:
    """A CSV cell as it was before `cell_safe`: one leading apostrophe less where it added one."""
    if text[:1] == "'" and _QUOTED.match(text):
        return text[1:]
    return text


def sql_formula_like(expr: str) -> str:
    """SQL for `formula_like` of a text expression (NULL for NULL)."""
    return f"(ascii({expr}) IN ({_ASCII}) OR (ascii({expr}) = 39 AND {expr} ~ '{_SQL_QUOTED_TAIL}'))"


def sql_cell_safe(expr: str) -> str:
    """SQL for `cell_safe` of a text expression."""
    return f"CASE WHEN {sql_formula_like(expr)} THEN '''' || {expr} ELSE {expr} END"
