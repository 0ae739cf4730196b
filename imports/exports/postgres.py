"""The people export built by PostgreSQL: the CSV with COPY … TO STDOUT (formatting and formula
neutralisation in SQL, ranges read over several connections), the .xlsx as sheet XML built in SQL
and streamed into the zip. Each writes what `imports.exports.generic` writes from the same rows
(tests/imports/test_exports.py compares them)."""

from __future__ import annotations

import contextvars
import csv
import io
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router

from audience.fields import PROFILE_FIELDS
from audience.models import Company, Contact, Profile
from audience.spreadsheets import cell_safe, sql_cell_safe, sql_formula_like
from imports import exports, xlsx
from imports.models import ExportJob

# PostgreSQL: the people CSV straight from the database -----------------------------------------
COPY_RANGE = 100_000  # profiles per COPY statement: progress between them, bounded statements


def _reads() -> str:
    """The alias the COPY statements read: the router's choice for profiles, a replica inside the
    export job's `audience.replicas.job_reads` when one holds everything committed before the job began (a
    raw cursor is not routed by itself), the primary otherwise."""
    return router.db_for_read(Profile)


def _sql_text(expr: str) -> str:
    """SQL for `generic.csv_cell` of a text expression (`audience.spreadsheets.sql_cell_safe`); '' and
    NULL become an unquoted empty field (COPY quotes an empty string)."""
    return f"NULLIF({sql_cell_safe(expr)}, '')"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _sql_iso(expr: str, zone: str = "UTC") -> str:
    """datetime.isoformat() of a timestamp in `zone` with its offset, as the generic path writes it
    (`exports.export_zone`): 2026-12-03T16:26:00+01:00."""
    local = f"({expr} AT TIME ZONE {_sql_literal(zone)})"
    offset = f"extract(epoch FROM {local} - ({expr} AT TIME ZONE 'UTC'))"
    return (
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"date_trunc('second', {expr}) = {expr} THEN '' ELSE to_char({local}, '.US') END "
        f"|| CASE WHEN {offset} < 0 THEN '-' ELSE '+' END "
        f"|| to_char(make_interval(secs => abs({offset})), 'HH24:MI')"
    )


# A stored date-time attribute (`audience.attributes`: ISO 8601 with Z or an offset); anything
# else in the column is written as the text it is, as `exports.people_rows` does.
_ATTRIBUTE_MOMENT = "'^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?(Z|[+-]\\d{2}:\\d{2})$'"


def _people_copy_joins(low: int, high: int, dense: bool) -> str:
    """The contacts and tags of the range's profiles. Dense ranges (the selection holds most ids
    of the span): one grouped scan of the span, hash-joined. Sparse ones (a small segment spread
    over a big account): one probe by profile id per selected profile, never the whole span."""
    from tags.models import ProfileTag, Tag

    contact, profile_tag, tag = Contact._meta.db_table, ProfileTag._meta.db_table, Tag._meta.db_table
    aggregates = (
        "string_agg(c.value, '; ' ORDER BY c.id) FILTER (WHERE c.kind = 'phone') AS phones, "
        "string_agg(c.value, '; ' ORDER BY c.id) FILTER (WHERE c.kind = 'email') AS emails"
    )
    names = "string_agg(x.name, '; ' ORDER BY x.name COLLATE \"C\") AS names"
    # The tag's name by a scalar subquery: a primary key probe per link, whatever the plan.
    link = f"(SELECT name FROM {tag} WHERE id = pt.tag_id) AS name"
    if dense:
        span = f"BETWEEN {int(low) + 1} AND {int(high)}"
        return (
            f"LEFT JOIN (SELECT c.profile_id, {aggregates} FROM {contact} c WHERE c.profile_id {span} "
            "GROUP BY c.profile_id) ct ON ct.profile_id = p.id "
            f"LEFT JOIN (SELECT x.profile_id, {names} FROM (SELECT pt.profile_id, {link} FROM {profile_tag} pt "
            f"WHERE pt.profile_id {span} OFFSET 0) x GROUP BY x.profile_id) tg ON tg.profile_id = p.id"
        )
    return (
        f"LEFT JOIN LATERAL (SELECT {aggregates} FROM {contact} c WHERE c.profile_id = p.id) ct ON true "
        f"LEFT JOIN LATERAL (SELECT {names} FROM (SELECT {link} FROM {profile_tag} pt "
        "WHERE pt.profile_id = p.id OFFSET 0) x) tg ON true"
    )


def _people_columns(definitions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(kind, SQL) of each column of the people export in header order, for the CSV and .xlsx
    COPY statements: a kind of "attribute" (or "attribute_datetime") carries the attribute's key
    as a literal. `definitions`: (name, type) of the account's custom attributes."""
    columns = [("number", "p.id")]
    columns += [("date" if f.type == "date" else "text", f"p.{f.name}") for f in PROFILE_FIELDS]
    columns.append(("text", "co.name"))
    columns += [("datetime", "p.created_at"), ("datetime", "p.modified_at")]
    columns += [("text", "ct.phones"), ("text", "ct.emails"), ("text", "tg.names")]
    columns += [
        ("attribute_datetime" if type_ == "datetime" else "attribute", _sql_literal(name))
        for name, type_ in definitions
    ]
    return columns


def _csv_sql(kind: str, expr: str, zone: str = "UTC") -> str:
    """A column's SQL for the CSV: the text `generic.csv_cell` writes (moments in `zone`)."""
    if kind == "number":
        return expr
    if kind == "text":
        return _sql_text(expr)
    if kind == "date":
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if kind == "datetime":
        return _sql_iso(expr, zone)
    if kind == "attribute_datetime":
        raw = f"(p.attributes ->> {expr})"
        return (
            f"CASE WHEN {raw} ~ {_ATTRIBUTE_MOMENT} THEN {_sql_iso(f'{raw}::timestamptz', zone)} "
            f"ELSE {_sql_text(raw)} END"
        )
    return (
        f"CASE jsonb_typeof(p.attributes -> {expr}) WHEN 'boolean' THEN initcap(p.attributes ->> {expr}) "
        f"WHEN 'number' THEN p.attributes ->> {expr} ELSE {_sql_text(f'(p.attributes ->> {expr})')} END"
    )


def _people_copy_sql(definitions: list[tuple[str, str]], zone: str) -> str:
    columns = [_csv_sql(kind, expr, zone) for kind, expr in _people_columns(definitions)]
    # The explicit id range lets each statement read its range of the primary key: with only
    # `p.id IN (…)` the planner scanned the whole profile table for every range.
    return (
        f"COPY (SELECT {', '.join(columns)} FROM {Profile._meta.db_table} p "
        f"LEFT JOIN {Company._meta.db_table} co ON co.id = p.company_id "
        "{joins} "
        "WHERE p.id > {low} AND p.id <= {high} AND p.id IN ({ids}) ORDER BY p.id) TO STDOUT WITH (FORMAT csv)"
    )


def people_csv_copy(job: ExportJob, path: str) -> None:
    """Write the people CSV with COPY … TO STDOUT, one statement per range of COPY_RANGE ids;
    the formula neutralisation and formatting are done in SQL, the same as `generic.csv_cell`.

    The ranges are read over EXPORT_COPY_STREAMS connections at once, each into a part file,
    joined in order at the end: one COPY keeps one core busy in PostgreSQL and one in Python
    (libpq hands a COPY over a row at a time). Each range is its own statement, so its own
    snapshot, on one connection as on several. Inside a transaction (a test's, or a caller's)
    other connections can't see its rows: one stream on this connection then."""
    queryset = exports.people_queryset(job).order_by()
    definitions = exports.people_definitions(job.account)
    header = exports._people_header([name for name, _ in definitions])
    template = _people_copy_sql(definitions, exports.export_zone(job.account).key)
    ids_sql, ids_params = queryset.values_list("pk", flat=True).query.sql_with_params()
    alias = _reads()
    with connections[alias].cursor() as cursor:
        # Every COPY_RANGE-th id of the selection and its last: (id, how many up to it).
        cursor.execute(
            f"SELECT id, n FROM (SELECT q.id, row_number() OVER (ORDER BY q.id) AS n, count(*) OVER () AS total "
            f"FROM ({ids_sql}) q(id)) s WHERE mod(n, {COPY_RANGE}) = 0 OR n = total ORDER BY id",
            ids_params,
        )
        bounds = cursor.fetchall()
    ranges, low, before = [], 0, 0
    for high, upto in bounds:
        if low != high:
            ranges.append((low, high, upto - before))
        low, before = high, upto

    def copy_range(low: int, high: int, rows: int, handle) -> None:
        part = queryset.filter(pk__gt=low, pk__lte=high)
        sql, params = part.values_list("pk", flat=True).query.sql_with_params()
        statement = (
            template.replace("{joins}", _people_copy_joins(low, high, high - low <= 4 * rows))
            .replace("{low}", str(int(low)))
            .replace("{high}", str(int(high)))
            .replace("{ids}", sql)
        )
        # On a thread, that thread's own connection of the same alias.
        with connections[alias].cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
            for data in copy:
                handle.write(data)

    def progress(rows: int) -> None:
        job.processed = min(job.total, job.processed + rows)
        ExportJob.objects.filter(pk=job.pk).update(processed=job.processed)

    streams = (
        1
        if connections[DEFAULT_DB_ALIAS].in_atomic_block
        else max(1, min(settings.EXPORT_COPY_STREAMS, len(ranges)))
    )
    with open(path, "wb") as handle:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow([cell_safe(label) for label in header])
        handle.write(("\ufeff" + text.getvalue()).encode())
        if streams == 1:
            for low, high, rows in ranges:
                copy_range(low, high, rows, handle)
                progress(rows)
        else:
            _copy_ranges_parallel(ranges, streams, copy_range, progress, handle)


def _copy_ranges_parallel(ranges: list[tuple], streams: int, copy_range, progress, handle) -> None:
    """Run `copy_range` for each range on `streams` threads (each with its own database
    connection, closed when it is done), each range into a part file; report progress as ranges
    finish and append the parts to `handle` in order. The first error stops the others and is
    raised here. Each thread runs in a copy of the caller's context, so its reads go where the
    caller's go (`audience.replicas.job_reads`: the same replica)."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    done: queue.SimpleQueue = queue.SimpleQueue()
    for index, item in enumerate(ranges):
        todo.put((index, item))
    stop = threading.Event()
    folder_context = tempfile.TemporaryDirectory(prefix="export-")
    folder = folder_context.name

    def part_path(index: int) -> str:
        return os.path.join(folder, f"{index:06}.csv")

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    index, (low, high, rows) = todo.get_nowait()
                except queue.Empty:
                    return
                with open(part_path(index), "wb") as part:
                    copy_range(low, high, rows, part)
                done.put((index, rows, None))
        except Exception as error:  # handed to the caller, which raises it
            stop.set()
            done.put((None, 0, error))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True)
        for _ in range(streams)
    ]
    try:
        for thread in threads:
            thread.start()
        for _ in ranges:
            index, rows, error = done.get()
            if error is not None:
                raise error
            progress(rows)
        for index in range(len(ranges)):
            with open(part_path(index), "rb") as part:
                shutil.copyfileobj(part, handle, 1024 * 1024)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        folder_context.cleanup()


# PostgreSQL: the people .xlsx rows built as sheet XML by the database ---------------------------
# SQL escapes & < > (and CR, which a parser would read as LF). COPY writes CSV whose delimiter and
# quote are control characters XML can't hold, so its only changes to a row (quotes around one
# holding a line break, a delimiter or a quote) are bytes `_xml_legal` drops in Python along with
# every other such character: far cheaper there (bytes.translate) than translate() per cell in SQL.
_XML_REPLACE = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_ILLEGAL_BYTES = bytes(c for c in range(1, 32) if c not in (9, 10, 13))
_ILLEGAL_UTF8 = tuple(c.encode() for c in xlsx.ILLEGAL if ord(c) > 0x7F)


def _sql_xml(expr: str) -> str:
    escaped = expr
    for char, entity in _XML_REPLACE:
        escaped = f"replace({escaped}, {_sql_literal(char)}, '{entity}')"
    return escaped


def _xml_legal(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """COPY's rows less the bytes XML can't hold (and COPY's quoting, made of them)."""
    for data in chunks:
        data = bytes(data).translate(None, _ILLEGAL_BYTES)
        if b"\xef\xbf" in data:
            for sequence in _ILLEGAL_UTF8:
                data = data.replace(sequence, b"")
        yield data


def _xlsx_sql(kind: str, expr: str, letter: str, zone: str = "UTC") -> str:
    """A column's cell as sheet XML (NULL for an empty cell), the same cell `xlsx.cell` writes for
    the value the Python path reads (a moment as its wall time in `zone`); `s.n` is the row number."""
    ref = f"'<c r=\"{letter}' || s.n || '\""

    def text(value: str) -> str:
        # An inline string can't be a formula: the text as it is, styled quotePrefix where it
        # looks like one (`xlsx.text_cell`, `audience.spreadsheets.formula_like`).
        style = f"CASE WHEN {sql_formula_like(value)} THEN ' s=\"{xlsx.TEXT_STYLE}\"' ELSE '' END"
        content = _sql_xml(f"NULLIF({value}, '')")
        return f"""{ref} t="inlineStr"' || {style} || '><is><t xml:space="preserve">' || {content} || '</t></is></c>'"""

    def moment(value: str) -> str:
        local = f"({value} AT TIME ZONE {_sql_literal(zone)})"
        serial = f"(extract(epoch FROM {local}) / 86400 + 25569)::float8"
        return f"{ref} s=\"{xlsx.DATETIME_STYLE}\"><v>' || {serial} || '</v></c>'"

    if kind == "number":
        return f"{ref}><v>' || {expr} || '</v></c>'"
    if kind == "text":
        return text(expr)
    if kind == "date":
        # `xlsx.date_serial`: days since 1899-12-30, one less before Excel's phantom 1900-02-29.
        days = f"({expr} - DATE '1899-12-30')"
        serial = f"({days} - CASE WHEN {days} BETWEEN 1 AND 60 THEN 1 ELSE 0 END)"
        return f"{ref} s=\"{xlsx.DATE_STYLE}\"><v>' || {serial} || '</v></c>'"
    if kind == "datetime":
        return moment(expr)
    if kind == "attribute_datetime":
        raw = f"(p.attributes ->> {expr})"
        iso = _sql_iso(f"{raw}::timestamptz", zone)
        return f"CASE WHEN {raw} ~ {_ATTRIBUTE_MOMENT} THEN {text(iso)} ELSE {text(raw)} END"
    value, raw = f"p.attributes -> {expr}", f"(p.attributes ->> {expr})"
    return (
        f"CASE jsonb_typeof({value}) WHEN 'number' THEN {ref}><v>' || {raw} || '</v></c>' "
        f"WHEN 'boolean' THEN {ref} t=\"b\"><v>' || ({value} = 'true'::jsonb)::int || '</v></c>' "
        f"WHEN 'null' THEN NULL ELSE {text(raw)} END"
    )


def _sql_concat(parts: list[str]) -> str:
    """concat() of any number of parts (a function takes at most 100 arguments); NULLs are ''."""
    if len(parts) <= 90:
        return f"concat({', '.join(parts)})"
    return _sql_concat([_sql_concat(parts[i : i + 90]) for i in range(0, len(parts), 90)])


def people_xlsx_copy(job: ExportJob, path: str) -> None:
    """Write the people .xlsx from COPY … TO STDOUT, each output line one `<row>` of sheet XML
    (formatting, neutralisation and escaping in SQL), streamed into the zip as it comes. One
    statement per keyset batch of ids, so progress moves every `exports.BATCH` rows and a batch never
    straddles a sheet's end."""
    queryset = exports.people_queryset(job).order_by()
    definitions = exports.people_definitions(job.account)
    zone = exports.export_zone(job.account).key
    columns = _people_columns(definitions)
    cells = [_xlsx_sql(kind, expr, xlsx.column_letter(i), zone) for i, (kind, expr) in enumerate(columns)]
    row = _sql_concat(["'<row r=\"' || s.n || '\">'", *cells, "'</row>'"])

    def statement(low: int, high: int, dense: bool, base: int) -> str:
        return (
            f"COPY (SELECT {row} FROM {Profile._meta.db_table} p "
            f"JOIN (SELECT id, (i + {int(base)})::text AS n FROM unnest(%s::bigint[]) WITH ORDINALITY AS q(id, i)) s "
            f"ON s.id = p.id LEFT JOIN {Company._meta.db_table} co ON co.id = p.company_id "
            f"{_people_copy_joins(low, high, dense)} ORDER BY p.id) "
            "TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
        )

    low = 0
    book = xlsx.XlsxStream(
        path, exports._people_header([name for name, _ in definitions]), expected_rows=job.total
    )
    with book, connections[_reads()].cursor() as cursor:
        for batch in exports._keyset(queryset, ["pk"]):
            ids = [pk for (pk,) in batch]
            while ids:
                part, ids = ids[: book.room()], ids[book.room() :]
                dense = part[-1] - low <= 4 * len(part)
                with cursor.cursor.copy(statement(low, part[-1], dense, book.next_row - 1), [part]) as copy:
                    book.append_xml(_xml_legal(copy), len(part))
                low = part[-1]
            job.processed = min(job.total, job.processed + len(batch))
            ExportJob.objects.filter(pk=job.pk).update(processed=job.processed)
