"""Files coming in: what a file is (format, encoding, delimiter), whether to refuse it, and reading
its rows as a stream. Nothing here loads a whole file into memory, except a spreadsheet, which
python-calamine reads compressed (≤ UPLOAD_MAX_BYTES) and holds as one sheet.

Refusals raise `FileRefused` with a message for the person who uploaded the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat

from audience.spreadsheets import cell_unquote

TEXT_FORMATS = ("csv", "txt")
SHEET_FORMATS = ("xlsx", "xls", "ods")
ACCEPTED = TEXT_FORMATS + SHEET_FORMATS + ("zip",)
ZIP_MAGIC = b"PK\x03\x04"
# A zip with no member is only its end-of-directory record: valid, but empty.
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Signatures of things that are certainly not a text file, whatever their name says.
BINARY_MAGIC = {
    ZIP_MAGIC: "a zip archive (or an Excel/OpenDocument file)",
    OLE_MAGIC: "an old Excel/Word document",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"MZ": "a Windows program",
    b"\x7fELF": "a program",
}
# A zip whose content expands more than this, or beyond MAX_UNZIPPED_BYTES, is refused as a bomb.
MAX_ZIP_RATIO = 100
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = (
    ("utf-8-sig", "UTF-8 (with BOM)"),
    ("utf-8", "UTF-8"),
    ("utf-16", "UTF-16 (with BOM)"),
    ("utf-16-le", "UTF-16 LE"),
    ("utf-16-be", "UTF-16 BE"),
    ("cp1252", "Windows-1252 (Western European)"),
    ("cp1250", "Windows-1250 (Central European)"),
    ("iso-8859-1", "ISO-8859-1 (Latin-1)"),
    ("iso-8859-2", "ISO-8859-2 (Latin-2)"),
    ("mac_roman", "Mac Roman"),
)


class FileRefused(Exception):
    """The file can't be imported; the message says why, for a person."""

    @property
    def message(self) -> str:
        return str(self.args[0])


def max_unzipped_bytes() -> int:
    return getattr(settings, "IMPORT_MAX_UNZIPPED_BYTES", 10 * settings.UPLOAD_MAX_BYTES)


@dataclass
class StoredFile:
    """What `upload_store` kept: the file to read (a zip's member, unpacked) and what it is."""

    path: str
    name: str
    size: int
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    zip_member: str = ""
    ignored_files: list[str] = field(default_factory=list)


def extension_of(name: str) -> str:
    return os.path.splitext(name)[1].lower().lstrip(".")


def name_check(name: str) -> str:
    """The file's extension, or refuse a name that is not a plain file name of an accepted type."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise FileRefused(
            f"{name!r} is not a plain file name: upload the file itself, without a folder path."
        )
    ext = extension_of(name)
    if ext not in ACCEPTED:
        shown = f".{ext} files" if ext else "Files without an extension"
        raise FileRefused(f"{shown} can't be imported: upload .csv, .txt, .xlsx, .xls, .ods or .zip.")
    return ext


def magic_check(name: str, ext: str, head: bytes) -> None:
    """Refuse a file whose first bytes say it is not what its name says."""
    if ext == "zip" and head.startswith(EMPTY_ZIP_MAGIC):
        raise FileRefused(f"{name} is an empty .zip: it holds no file to import.")
    if ext in ("zip", "xlsx", "ods") and not head.startswith(ZIP_MAGIC):
        raise FileRefused(f"{name} is named .{ext} but its content is not a .{ext} file.")
    if ext == "xls" and not head.startswith(OLE_MAGIC) and not head.startswith(ZIP_MAGIC):
        raise FileRefused(f"{name} is named .xls but its content is not an Excel workbook.")
    if ext in TEXT_FORMATS:
        for magic, what in BINARY_MAGIC.items():
            if head.startswith(magic):
                raise FileRefused(f"{name} is named .{ext} but it is {what}, not a text file.")


def encoding_detect(sample: bytes) -> str:
    """Guess a text file's encoding from its first bytes: a BOM, UTF-16's zero bytes, valid
    UTF-8, else Windows-1252 (what Excel on Windows writes for "CSV")."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 text of the Latin alphabet is about half zero bytes; a stray NUL in a UTF-8 file (a
    # cell the analysis then rejects, naming it) is not a reason to read it all as UTF-16.
    if sample.count(0) * 8 >= len(sample):
        evens, odds = sample[0::2].count(0), sample[1::2].count(0)
        if odds > evens * 4:
            return "utf-16-le"
        if evens > odds * 4:
            return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "iso-8859-1"


def sample_decode(sample: bytes, encoding: str) -> str:
    """Decode the first bytes of a file, tolerating a character cut at the end of the sample."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except (UnicodeDecodeError, LookupError) as error:
        raise FileRefused(
            f"The file can't be read as {encoding}: {error}. Choose another encoding."
        ) from None


def text_check(name: str, text: str) -> None:
    if not text.strip():
        raise FileRefused(f"{name} is empty: it holds no rows.")
    controls = sum(1 for ch in text if ch not in "\t\r\n" and unicodedata.category(ch) == "Cc")
    if controls > max(2, len(text) // 1000):
        raise FileRefused(f"{name} does not look like a text (CSV) file: it holds binary data.")


def delimiter_detect(text: str) -> str:
    """The delimiter that splits the first lines into the most rows of the same width (>1)."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut short
    sample = "".join(lines[:50])
    best, best_score = ",", 0
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = widths.count(common) * (common - 1)
        if common > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _zip_pick(name: str, archive: zipfile.ZipFile) -> tuple[zipfile.ZipInfo, list[str]]:
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and os.path.basename(info.filename) not in (".DS_Store", "Thumbs.db")
    ]
    for info in members:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise FileRefused(f"{name} holds a file with a path outside the archive ({info.filename}).")
    if not members:
        raise FileRefused(f"{name} is an empty zip archive: it holds no file.")
    first = members[0]
    limit = max_unzipped_bytes()
    if first.file_size > limit or (
        first.compress_size
        and first.file_size / first.compress_size > MAX_ZIP_RATIO
        and first.file_size > 1_000_000
    ):
        raise FileRefused(
            f"{name} looks like a zip bomb: {first.filename} would expand to {filesizeformat(first.file_size)}"
            f" (at most {filesizeformat(limit)} and {MAX_ZIP_RATIO}× compression are accepted)."
        )
    return first, [info.filename for info in members[1:]]


def _copy_capped(source: IO[bytes], target: IO[bytes], limit: int, what: str) -> int:
    copied = 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > limit:
            raise FileRefused(f"{what} expands beyond {filesizeformat(limit)}: it looks like a zip bomb.")
        target.write(chunk)
    return copied


def _sheet_check(name: str, ext: str, stream: IO[bytes]) -> None:
    """A workbook that is a zip (xlsx, ods) is checked for a bomb like any zip."""
    if ext == "xls" and not stream.read(8).startswith(ZIP_MAGIC):
        stream.seek(0)
        return
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
            declared = sum(info.file_size for info in archive.infolist())
            compressed = sum(info.compress_size for info in archive.infolist()) or 1
    except zipfile.BadZipFile:
        raise FileRefused(f"{name} is damaged or is not a real .{ext} file.") from None
    if ext in ("xlsx", "xls") and "[Content_Types].xml" not in names:
        raise FileRefused(f"{name} is named .{ext} but it is not an Excel workbook.")
    if ext == "ods" and "mimetype" not in names:
        raise FileRefused(f"{name} is named .ods but it is not an OpenDocument spreadsheet.")
    if declared > max_unzipped_bytes() or (declared > 10_000_000 and declared / compressed > MAX_ZIP_RATIO):
        raise FileRefused(f"{name} would expand to {filesizeformat(declared)}: it looks like a zip bomb.")
    stream.seek(0)


def upload_store(*, name: str, stream: IO[bytes], size: int, folder: str) -> StoredFile:
    """Check an upload and keep it in default_storage under `folder`; a .zip is unpacked to its
    first file. Raises FileRefused with the reason."""
    name = os.path.basename(name.replace("\\", "/")) if name else name
    ext = name_check(name)
    limit = settings.UPLOAD_MAX_BYTES
    if size == 0:
        raise FileRefused(f"{name} is empty.")
    if size > limit:
        raise FileRefused(
            f"{name} is {filesizeformat(size)}: the limit is {filesizeformat(limit)}. Compress it into a .zip."
        )
    stream.seek(0)
    magic_check(name, ext, stream.read(8))
    stream.seek(0)
    zip_member, ignored = "", []
    with tempfile.TemporaryFile() as unpacked:
        if ext == "zip":
            try:
                archive = zipfile.ZipFile(stream)
            except zipfile.BadZipFile:
                raise FileRefused(f"{name} is a damaged zip archive.") from None
            with archive:
                info, ignored = _zip_pick(name, archive)
                zip_member = info.filename
                inner = os.path.basename(info.filename)
                ext = extension_of(inner)
                if ext not in TEXT_FORMATS + SHEET_FORMATS:
                    raise FileRefused(
                        f"{name} holds {inner}: the file in a zip must be .csv, .txt, .xlsx, .xls or .ods."
                    )
                try:
                    with archive.open(info) as member:
                        size = _copy_capped(member, unpacked, min(info.file_size, max_unzipped_bytes()), name)
                except (zipfile.BadZipFile, zlib_errors()) as error:
                    raise FileRefused(f"{name} is a damaged zip archive ({error}).") from None
            if size == 0:
                raise FileRefused(f"{inner} in {name} is empty.")
            unpacked.seek(0)
            magic_check(inner, ext, unpacked.read(8))
            unpacked.seek(0)
            source: IO[bytes] = unpacked
        else:
            source = stream
        stored = StoredFile(path="", name=name, size=size, file_format="csv" if ext == "txt" else ext)
        stored.zip_member, stored.ignored_files = zip_member, ignored
        if ext in TEXT_FORMATS:
            sample = source.read(SAMPLE_BYTES)
            source.seek(0)
            stored.encoding = encoding_detect(sample)
            text = sample_decode(sample, stored.encoding)
            text_check(zip_member or name, text)
            stored.delimiter = delimiter_detect(text)
        else:
            _sheet_check(zip_member or name, ext, source)
        stored_name = f"{folder}/source.{stored.file_format}"
        stored.path = default_storage.save(stored_name, File(source, name=stored_name))
    return stored


def zlib_errors() -> type[Exception]:
    import zlib

    return zlib.error


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person typed: 385911234567.0 → "385911234567"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return (
            value.isoformat()
            if (value.hour, value.minute, value.second) != (0, 0, 0)
            else value.date().isoformat()
        )
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


@dataclass
class RowSource:
    """Rows of a stored file, header first (after the skipped rows), as lists of strings.
    `position()` and `size` measure progress in bytes (text) or rows (sheets)."""

    rows: Iterator[list[str]]
    size: int
    position: Any


@contextmanager
def rows_open(
    *, path: str, file_format: str, encoding: str = "utf-8", delimiter: str = ",", skip_rows: int = 0
) -> Iterator[RowSource]:
    if file_format in SHEET_FORMATS:
        with _sheet_rows(path) as source:
            _skip(source.rows, skip_rows)
            yield source
        return
    with default_storage.open(path, "rb") as raw:
        size = default_storage.size(path)
        text = io.TextIOWrapper(raw, encoding=encoding or "utf-8", newline="")
        reader = csv.reader(text, delimiter=delimiter or ",")
        source = RowSource(rows=_text_rows(reader), size=size, position=raw.tell)
        _skip(source.rows, skip_rows)
        yield source


def _text_rows(reader) -> Iterator[list[str]]:
    """A CSV's rows, cells stripped, with the apostrophe an export put before a formula-like
    cell taken off again (`audience.spreadsheets.cell_unquote`: what Audience exports, it imports
    unchanged). csv's own errors become a refusal that names the row."""
    record = 0
    try:
        for row in reader:
            record += 1
            cells = [cell.strip() for cell in row]
            joined = "\x1f".join(cells)  # one C-level test a row instead of one per cell
            if joined[:1] == "'" or "\x1f'" in joined:
                cells = [cell_unquote(cell) for cell in cells]
            yield cells
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise FileRefused(
                f"Row {record + 1:,} has a cell longer than {csv.field_size_limit():,} characters, "
                "which no import field takes. If the rows look merged, the delimiter or a stray quote "
                "is wrong: check them on the mapping step; otherwise shorten that cell."
            ) from None
        raise FileRefused(f"Row {record + 1:,} can't be read as CSV: {error}.") from None


def _skip(rows: Iterator[list[str]], count: int) -> None:
    for _ in range(count):
        if next(rows, None) is None:
            break


@contextmanager
def _sheet_rows(path: str) -> Iterator[RowSource]:
    from python_calamine import CalamineError, CalamineWorkbook

    with (
        default_storage.open(path, "rb") as raw,
        tempfile.NamedTemporaryFile(suffix=os.path.splitext(path)[1]) as local,
    ):
        shutil.copyfileobj(raw, local)
        local.flush()
        try:
            workbook = CalamineWorkbook.from_path(local.name)
            sheet = workbook.get_sheet_by_index(0)
        except (CalamineError, Exception) as error:  # calamine raises several error types
            raise FileRefused(f"The workbook can't be read: {error}") from None
        done = [0]

        def rows() -> Iterator[list[str]]:
            for row in sheet.iter_rows():
                done[0] += 1
                yield [cell_text(value) for value in row]

        yield RowSource(rows=rows(), size=sheet.height or 1, position=lambda: done[0])
        workbook.close()


_email_like = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_phone_like = re.compile(r"\+?[\d\s().\-/]{6,}")


def email_like(text: str) -> bool:
    return _email_like.fullmatch(text) is not None


def phone_like(text: str) -> bool:
    return _phone_like.fullmatch(text) is not None and sum(ch.isdigit() for ch in text) >= 6


def header_detect(row: list[str]) -> bool:
    """Whether the first row is a header: not when one of its cells is a phone number or an email
    address (a one-number-a-line .txt has no header), or all of them are numbers."""
    cells = [cell for cell in row if cell]
    if not cells:
        return True
    if any(email_like(cell) or phone_like(cell) for cell in cells):
        return False
    return not all(cell.replace(".", "", 1).lstrip("+-").isdigit() for cell in cells)


PREVIEW_CELL = 300  # characters of a cell kept for the mapping screen (a header of 256 fits)


def preview_rows(
    *, path: str, file_format: str, encoding: str, delimiter: str, skip_rows: int, limit: int = 10
) -> list[list[str]]:
    """The first row (the header, if the file has one) and the next `limit` rows, for the
    mapping screen; cells cut at PREVIEW_CELL characters."""
    rows: list[list[str]] = []
    with rows_open(
        path=path, file_format=file_format, encoding=encoding, delimiter=delimiter, skip_rows=skip_rows
    ) as source:
        for row in source.rows:
            if not any(row):
                continue
            rows.append([cell[:PREVIEW_CELL] for cell in row])
            if len(rows) > limit:
                break
    return rows


# Uploads bigger than the limit: refused before they are read ----------------------------------
# Room for the form's other fields and the multipart boundaries around the file.
UPLOAD_FORM_SLACK = 64 * 1024


def upload_too_big_message(size: int | None = None) -> str:
    limit = filesizeformat(settings.UPLOAD_MAX_BYTES)
    if size:
        return f"The file is {filesizeformat(size)}: the limit is {limit}. Compress it into a .zip."
    return f"The file is larger than the limit of {limit}. Compress it into a .zip."


class UploadLimitHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: a request body over UPLOAD_MAX_BYTES (its Content-Length,
    or the file's bytes as they come, for a body without one) stops the upload where it is — the
    rest is never read, nor written to a temporary file — and leaves `request.upload_refused`
    with the message for the form. The fields before the file (the CSRF token) are parsed."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_big = content_length > settings.UPLOAD_MAX_BYTES + UPLOAD_FORM_SLACK
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.too_big:
            self._stop(int(self.request.META.get("CONTENT_LENGTH") or 0))

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self._stop(None)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _stop(self, size: int | None) -> None:
        if self.request is not None:
            self.request.upload_refused = upload_too_big_message(size)
        raise StopUpload(connection_reset=True)
