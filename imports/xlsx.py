"""A streaming .xlsx writer: one worksheet XML per sheet, written straight into a deflated zip entry,
so memory stays flat whatever the row count and no temporary sheet file is kept. It is measured
against openpyxl's write_only mode (which exports used before it) and XlsxWriter's constant_memory
mode in docs/imports.md, "Exports to .xlsx": several times faster than either.

Strings are inline (`t="inlineStr"`, no shared-string table to hold in memory), numbers are numbers,
booleans booleans, dates and datetimes serial numbers with a `yyyy-mm-dd` / `yyyy-mm-dd h:mm:ss`
format, as openpyxl wrote them. Rows past Excel's 1,048,576 go on to a next sheet ("Export (2)", …)
that repeats the header. Rows may also come ready-made as XML (the PostgreSQL export builds them in
SQL): `room()` says how many fit in the current sheet and `append_xml()` takes them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zipfile
from collections.abc import Iterable
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from audience.spreadsheets import FORMULA_CHARS, formula_like

MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included
DATE_STYLE, DATETIME_STYLE, TEXT_STYLE = 1, 2, 3  # cellXfs indexes in STYLES
EPOCH = dt.date(1899, 12, 30)
# Characters XML 1.0 can't hold even as a reference: dropped (openpyxl refused the whole export).
ILLEGAL = "".join(chr(c) for c in (*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF))
_FORMULA_OR_QUOTE = FORMULA_CHARS | {"'"}
_illegal = re.compile(f"[{re.escape(ILLEGAL)}]")
# Level 1: the sheet XML is very repetitive, so it still shrinks ~10x, at several times the speed of 6.
COMPRESS_LEVEL = 1
# A sheet entry over 4 GiB needs ZIP64, which must be chosen before the entry is written: chosen when
# a full sheet at this many bytes a cell could pass 2 GiB.
ZIP64_CELL_BYTES = 100

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
STYLES = (
    f"{XML_HEAD}<styleSheet {NS}>"
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def escape(text: str) -> str:
    """Text as XML element content: & < > escaped, CR kept as a reference (a parser would turn a
    raw one into LF), characters XML can't hold dropped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not text.isprintable():
        text = _illegal.sub("", text).replace("\r", "&#13;")
    return text


def date_serial(value: dt.date) -> int:
    """Excel's day number (1900 system, with its phantom 29 February 1900), as openpyxl counts."""
    days = (value - EPOCH).days
    return days - 1 if 0 < days <= 60 else days


def datetime_serial(value: dt.datetime) -> float:
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return date_serial(value.date()) + seconds / 86400


def text_cell(ref: str, text: str) -> str:
    # formula_like, its common case first: this runs for every text cell.
    style = f' s="{TEXT_STYLE}"' if text and text[0] in _FORMULA_OR_QUOTE and formula_like(text) else ""
    return f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{escape(text)}</t></is></c>'


def cell(ref: str, value: Any) -> str:
    """One cell; '' for None and '' (an absent cell). Text is written as given (an inline string
    is never run as a formula), styled quotePrefix where it looks like one."""
    kind = type(value)
    if kind is str:
        return text_cell(ref, value) if value else ""
    if kind is bool:
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if kind is int or (kind is float and math.isfinite(value)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        # Excel has no time zones: the wall time in the value's own zone (exports give moments
        # in the account's, `imports.exports.export_zone`).
        value = value.replace(tzinfo=None)
        return f'<c r="{ref}" s="{DATETIME_STYLE}"><v>{datetime_serial(value)!r}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="{DATE_STYLE}"><v>{date_serial(value)}</v></c>'
    if isinstance(value, dict | list):
        return text_cell(ref, json.dumps(value, ensure_ascii=False))
    return text_cell(ref, str(value))


class XlsxStream:
    """Write `path` as an .xlsx of `header` and the rows appended; use as a context manager (the
    package is complete when it closes). `expected_rows` only decides ZIP64 for big sheets."""

    def __init__(self, path: str, header: list[str], *, expected_rows: int = 0, name: str = "Export"):
        self.header = header
        self.name = name
        self.letters = [column_letter(i) for i in range(len(header))]
        self.expected_rows = expected_rows
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        self.sheets: list[str] = []
        self.sheet: IO[bytes] | None = None
        self.row = 0  # the last row number written in the current sheet
        self.written = 0  # data rows, all sheets
        self.pending: list[bytes] = []
        self.pending_size = 0

    def __enter__(self) -> XlsxStream:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is None:
            self.close()
        else:  # the file is thrown away: just let go of it
            if self.sheet is not None:
                self.sheet.close()
            self.zip.close()

    def room(self) -> int:
        """Data rows the current sheet still holds; starts a new sheet when it holds none."""
        if self.sheet is None or self.row >= MAX_ROWS:
            self._start_sheet()
        return MAX_ROWS - self.row

    def append(self, values: Iterable[Any]) -> None:
        self.room()
        self.row += 1
        row, letters = str(self.row), self.letters
        cells = "".join([cell(letter + row, value) for letter, value in zip(letters, values, strict=False)])
        self._write(f'<row r="{row}">{cells}</row>'.encode())
        self.written += 1

    def append_xml(self, chunks: Iterable[bytes], rows: int) -> None:
        """`rows` rows already as XML, numbered from `next_row` on (a number may be missing: a
        profile deleted meanwhile); the caller keeps to `room()`."""
        for data in chunks:
            self._write(data)
        self.row += rows
        self.written += rows

    def _write(self, data: bytes) -> None:
        """Rows come a few hundred bytes at a time: they reach the zip a megabyte at a time."""
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= 1 << 20:
            self._flush()

    def _flush(self) -> None:
        self.sheet.write(b"".join(self.pending))
        self.pending, self.pending_size = [], 0

    @property
    def next_row(self) -> int:
        return self.row + 1

    def _start_sheet(self) -> None:
        self._end_sheet()
        self.sheets.append(self.name if not self.sheets else f"{self.name} ({len(self.sheets) + 1})")
        rows = min(MAX_ROWS, max(self.expected_rows - self.written, 0) + 1)
        self.sheet = self.zip.open(
            f"xl/worksheets/sheet{len(self.sheets)}.xml",
            "w",
            force_zip64=rows * len(self.header) * ZIP64_CELL_BYTES > 2**31,
        )
        self.sheet.write(f"{XML_HEAD}<worksheet {NS}><sheetData>".encode())
        self.row = 1
        cells = "".join(
            text_cell(f"{letter}1", label) for letter, label in zip(self.letters, self.header, strict=True)
        )
        self.sheet.write(f'<row r="1">{cells}</row>'.encode())

    def _end_sheet(self) -> None:
        if self.sheet is not None:
            self._flush()
            self.sheet.write(b"</sheetData></worksheet>")
            self.sheet.close()
            self.sheet = None

    def close(self) -> None:
        if not self.sheets:
            self._start_sheet()  # a workbook needs a sheet: the header alone
        self._end_sheet()
        count = len(self.sheets)
        sheets = "".join(
            f'<sheet name={quoteattr(name[:31])} sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(self.sheets, 1)
        )
        sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>'
            for i in range(1, count + 1)
        )
        links = "".join(
            f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, count + 1)
        )
        parts = {
            "[Content_Types].xml": (
                f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                f"{overrides}</Types>"
            ),
            "_rels/.rels": (
                f'{XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": f"{XML_HEAD}<workbook {NS} {NS_R}><sheets>{sheets}</sheets></workbook>",
            "xl/_rels/workbook.xml.rels": (
                f'{XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'{links}<Relationship Id="rId{count + 1}" Type="{REL}/styles" Target="styles.xml"/>'
                "</Relationships>"
            ),
            "xl/styles.xml": STYLES,
        }
        for name, text in parts.items():
            self.zip.writestr(name, text)
        self.zip.close()
