"""Email over SMTP through Django's email framework (`EMAIL_HOST`, `EMAIL_PORT`, `EMAIL_HOST_USER`,
`EMAIL_HOST_PASSWORD`, `EMAIL_USE_TLS`, `EMAIL_USE_SSL`, `EMAIL_TIMEOUT`).

A chunk of the send is spread over `SMTP_CONNECTIONS` connections, one thread each, so the SMTP
round trips (MAIL, RCPT, DATA and their answers) of several messages overlap. Each message has a
subject, a text and an HTML part, a `Message-ID` made from its idempotency key, `List-Unsubscribe`
(the signed https link and, when UNSUBSCRIBE_MAILTO is set, a mailto) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). A permanent refusal (5xx) fails
that message with the server's reply; a temporary one (4xx, a dropped connection, a timeout) is
retried with backoff on a new connection.

SMTP has no idempotency key, so the channel remembers the keys it handed over (`HandOff`). The
chunk goes out in rounds of `CLAIM_BATCH` messages a connection: the round's keys are claimed in
one `INSERT … ON CONFLICT DO NOTHING RETURNING key` and committed, and only the keys that
statement inserted are given to the server; the next round is claimed while the connections
hand this one over. A repeated hand-off after a worker died is skipped, and the SMTP server
receives each Message-ID at most once. The price: a worker killed between a round's commit and the
server's acceptance loses what that round and the next, claimed, one had not handed over yet (at
most `2 × CLAIM_BATCH × SMTP_CONNECTIONS` messages; they count as sent).

With a server that offers PIPELINING (RFC 2920, as Postfix and most relays do), a message's
content, the next message's MAIL, RCPT and DATA go in one write: one round trip a message.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.header import Header
from email.utils import formataddr, formatdate
from urllib.parse import quote

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, sanitize_address, utf8_charset_qp
from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from communications.backends import BaseBackend, Outgoing
from communications.channels import TransientError, with_retries
from communications.models import HandOff

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Messages a connection is given per round: one claim statement and one commit for all of them.
# 25 on 8 connections (the default): rounds of 200, and a killed worker loses at most 400.
CLAIM_BATCH = 25


def from_header(message: Outgoing) -> str:
    address = message.sender or settings.DEFAULT_FROM_EMAIL
    return formataddr((message.sender_label, address)) if message.sender_label else address


def message_id(message: Outgoing) -> str:
    """`<12.345@example.com>` for key `12:345` sent from @example.com: the same on every hand-off."""
    domain = (message.sender or settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or "localhost"
    return f"<{message.key.replace(':', '.')}.audience@{domain}>"


def list_headers(message: Outgoing) -> dict[str, str]:
    links = []
    if message.unsubscribe_url:
        links.append(f"<{message.unsubscribe_url}>")
    if settings.UNSUBSCRIBE_MAILTO:
        token = message.unsubscribe_url.rstrip("/").rpartition("/")[2]
        links.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={quote('unsubscribe ' + token)}>")
    headers = {"Message-ID": message_id(message)}
    if links:
        headers["List-Unsubscribe"] = ", ".join(links)
    if message.unsubscribe_url:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


class EmailBuilder:
    """The bytes of each email, made the way Django's `EmailMultiAlternatives` makes them (the same
    headers, parts and transfer encodings) without building a MIME tree a message: what all the
    messages of one sender share (From, the envelope sender, the multipart skeleton and its
    boundary, the Date of the batch) is made once, and a message adds only its own parts."""

    def __init__(self):
        self.date = formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
        self.boundary = f"===============audience{secrets.token_hex(12)}=="
        self.senders: dict[tuple[str, str], tuple[str, bytes]] = {}

    def sender(self, message: Outgoing) -> tuple[str, bytes]:
        """(the envelope sender, the From header line) of `message`'s sender, made once."""
        shared = self.senders.get((message.sender, message.sender_label))
        if shared is None:
            address = sanitize_address(from_header(message), settings.DEFAULT_CHARSET)
            shared = (address, f"From: {address}\r\n".encode())
            self.senders[(message.sender, message.sender_label)] = shared
        return shared

    def envelope(self, message: Outgoing) -> tuple[str, str, bytes]:
        """(envelope sender, recipient, the message's bytes with CRLF line ends)."""
        sender, from_line = self.sender(message)
        recipient = message.destination
        if not recipient.isascii() or any(ch in recipient for ch in ' \t\r\n<>,"'):
            recipient = sanitize_address(recipient, settings.DEFAULT_CHARSET)
        headers = [
            f"Subject: {_header_text(message.subject)}\r\n".encode(),
            from_line,
            f"To: {recipient}\r\nDate: {self.date}\r\n".encode(),
            *(f"{name}: {value}\r\n".encode() for name, value in list_headers(message).items()),
        ]
        if not message.html:
            body, transfer = _body(message.text)
            return (
                sender,
                recipient,
                b"".join(
                    [
                        b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n',
                        b"Content-Transfer-Encoding: " + transfer + b"\r\n",
                        *headers,
                        b"\r\n",
                        body,
                    ]
                ),
            )
        boundary = self.boundary
        if boundary in message.text or boundary in message.html:  # never, but then a new one
            boundary = f"===============audience{secrets.token_hex(16)}=="
        mark = f"--{boundary}".encode()
        text, text_transfer = _body(message.text)
        html, html_transfer = _body(message.html)
        return (
            sender,
            recipient,
            b"".join(
                [
                    f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode(),
                    b"MIME-Version: 1.0\r\n",
                    *headers,
                    b"\r\n",
                    mark,
                    b'\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: ',
                    text_transfer,
                    b"\r\n\r\n",
                    text,
                    b"\r\n",
                    mark,
                    b'\r\nContent-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: ',
                    html_transfer,
                    b"\r\n\r\n",
                    html,
                    b"\r\n",
                    mark,
                    b"--\r\n",
                ]
            ),
        )


def _header_text(value: str) -> str:
    """A header's value: as it is when it is short ASCII, else RFC 2047 encoded words, folded."""
    value = " ".join(value.split()) if ("\r" in value or "\n" in value) else value
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _body(text: str) -> tuple[bytes, bytes]:
    """A part's body with CRLF line ends and its Content-Transfer-Encoding, as Django chooses it:
    7bit or 8bit, and quoted-printable when a line is longer than RFC 5322 allows."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode()
    if len(data) > RFC5322_EMAIL_LINE_LENGTH_LIMIT and any(
        len(line) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in data.split(b"\n")
    ):
        data = utf8_charset_qp.body_encode(text).encode("ascii")
        return data.replace(b"\n", b"\r\n"), b"quoted-printable"
    return data.replace(b"\n", b"\r\n"), (b"7bit" if data.isascii() else b"8bit")


def handoff_claim(*, keys: list[str]) -> set[str]:
    """Record that `keys` are being handed over, in one statement and one commit; returns the keys
    this call inserted (the others were handed over before, or by a worker claiming them now)."""
    if not keys:
        return set()
    table, column = db.ops.quote_name(HandOff._meta.db_table), db.ops.quote_name("key")
    created = db.ops.adapt_datetimefield_value(timezone.now())
    # ON CONFLICT … RETURNING (PostgreSQL, SQLite 3.35+) names exactly the rows this insert made,
    # which a select-then-insert would not under two workers claiming the same chunk.
    if db.vendor == "postgresql":  # the keys as one array: two parameters whatever the round's size
        sql = f"INSERT INTO {table} ({column}, created_at) SELECT k, %s FROM unnest(%s::text[]) AS k"
        params: list = [created, keys]
    else:
        sql = f"INSERT INTO {table} ({column}, created_at) VALUES {', '.join(['(%s, %s)'] * len(keys))}"
        params = [value for key in keys for value in (key, created)]
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute(f"{sql} ON CONFLICT ({column}) DO NOTHING RETURNING {column}", params)
        return {row[0] for row in cursor.fetchall()}


class SmtpChannel(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        failures: dict[int, str] = {}
        lanes = settings.SMTP_CONNECTIONS
        builder = EmailBuilder()
        connections = [get_connection(SMTP_BACKEND, fail_silently=False) for _ in range(lanes)]
        step = CLAIM_BATCH * lanes
        rounds = [messages[start : start + step] for start in range(0, len(messages), step)]
        try:
            with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="smtp") as pool:
                claimed = handoff_claim(keys=[message.key for message in rounds[0]]) if rounds else set()
                for number, round_ in enumerate(rounds):
                    todo = [message for message in round_ if message.key in claimed]
                    # The threads only talk SMTP: every database write stays in this thread, which
                    # claims the next round while the connections hand this one over.
                    lanes_done = [
                        pool.submit(_deliver_all, connection, todo[i::lanes], builder)
                        for i, connection in enumerate(connections)
                    ]
                    if number + 1 < len(rounds):
                        claimed = handoff_claim(keys=[message.key for message in rounds[number + 1]])
                    for done in lanes_done:
                        failures.update(done.result())
        finally:
            for connection in connections:
                connection.close()
        return failures


def _deliver_all(connection, messages: list[Outgoing], builder: EmailBuilder) -> dict[int, str]:
    """Hand `messages` over on `connection`, one after another: {profile_id: the server's refusal}.

    When the server offers PIPELINING (RFC 2920), a message's content goes in the same write as
    the next message's MAIL, RCPT and DATA (the content may open a group), and their four replies
    are read together: one round trip a message. A message whose group went wrong (a refusal, a
    4xx, a dropped connection) is handed over again on its own at the end, with smtplib's
    conversation and the retries with backoff, where its own replies decide."""
    failures: dict[int, str] = {}
    again: list[tuple[Outgoing, tuple[str, str, bytes]]] = []
    held: tuple[Outgoing, tuple[str, str, bytes]] | None = None  # DATA accepted, content not sent yet
    for message in messages:
        envelope = builder.envelope(message)
        if held is None and not _pipelining(connection):
            _one(connection, message, envelope, failures)
        else:
            held = _group(connection, held, (message, envelope), again, failures)
    if held is not None:
        _group(connection, held, None, again, failures)
    for message, envelope in again:
        _one(connection, message, envelope, failures, tried=1)
    return failures


def _pipelining(connection) -> bool:
    """Whether `connection` (opened when it is not) offers PIPELINING; False when it can't be
    opened (the message then goes the one-at-a-time way, which retries)."""
    try:
        if connection.connection is None:
            connection.open()
    except (smtplib.SMTPException, OSError):
        _drop(connection)
        return False
    smtp = connection.connection
    return bool(smtp.does_esmtp and smtp.has_extn("pipelining"))


def _one(connection, message: Outgoing, envelope, failures: dict[int, str], tried: int = 0) -> None:
    try:
        with_retries(lambda: _deliver(connection, *envelope), f"SMTP to {message.destination}", tried=tried)
    except SmtpRefused as refused:
        failures[message.profile_id] = str(refused)


def _group(connection, held, current, again: list, failures: dict[int, str]):
    """One write: the content of `held` (whose DATA was accepted), then MAIL, RCPT and DATA of
    `current`; one read of their replies. Returns `current` when the server accepted its DATA
    (its content goes with the next group), else None."""
    smtp = connection.connection
    parts = []
    if held is not None:
        content = _LEADING_DOT.sub(b"..", held[1][2])
        parts.append(content + (b".\r\n" if content.endswith(b"\r\n") else b"\r\n.\r\n"))
    if current is not None:
        sender, recipient, data = current[1]
        size = f" SIZE={len(data)}" if smtp.has_extn("size") else ""
        parts.append(f"MAIL FROM:{_quote(sender)}{size}\r\nRCPT TO:{_quote(recipient)}\r\nDATA\r\n".encode())
    try:
        smtp.send(b"".join(parts))
        if held is not None:
            code, text = smtp.getreply()
            if code >= 500:
                failures[held[0].profile_id] = _reply(code, text)
            elif code != 250:
                again.append(held)
            held = None  # answered
        if current is None:
            return None
        mail, rcpt, data_reply = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if data_reply[0] == 354 and mail[0] == 250 and rcpt[0] in (250, 251):
            return current
        if data_reply[0] == 354:  # the server opened DATA for no recipient: close it empty
            smtp.send(b".\r\n")
            smtp.getreply()
        code, text = next(r for r in (mail, rcpt, data_reply) if r[0] not in (250, 251, 354))
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError):
        # What the server made of this write is unknown: each message again, on its own (the
        # held one's Message-ID may then reach the server twice, as with any dropped connection).
        _drop(connection)
        again.extend(m for m in (held, current) if m is not None)
        return None
    _reset(connection)
    if code >= 500:  # refused for good, with the server's reply
        failures[current[0].profile_id] = _reply(code, text)
    else:  # 4xx: again later, with backoff
        again.append(current)
    return None


def _quote(address: str) -> str:
    """`<address>` for a plain one (smtplib.quoteaddr parses it again: 0.1 ms a message)."""
    if address.isascii() and not any(ch in address for ch in ' \t\r\n<>,"()'):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


class SmtpRefused(Exception):
    """The server refused this message for good (a 5xx reply)."""


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {text}".strip()[:500]


def _deliver(connection, sender: str, recipient: str, data: bytes) -> None:
    try:
        if connection.connection is None:
            connection.open()
        _transact(connection.connection, sender, recipient, data)
    except smtplib.SMTPRecipientsRefused as error:
        code, text = next(iter(error.recipients.values()))
        _raise_for(connection, code, text)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        _raise_for(connection, error.smtp_code, error.smtp_error)
    except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
        _drop(connection)
        raise TransientError(f"the SMTP server did not answer: {error}") from error


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _transact(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """One mail transaction. When the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA
    go in one write and their three replies are read together, then the content: two round trips
    a message instead of four. Otherwise smtplib's own `sendmail`, one command at a time."""
    if not (smtp.does_esmtp and smtp.has_extn("pipelining")):
        smtp.sendmail(sender, [recipient], data)
        return
    size = f" SIZE={len(data)}" if smtp.has_extn("size") else ""
    smtp.send(f"MAIL FROM:{_quote(sender)}{size}\r\nRCPT TO:{_quote(recipient)}\r\nDATA\r\n")
    mail, rcpt, data_reply = smtp.getreply(), smtp.getreply(), smtp.getreply()
    if data_reply[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        smtp.send(b".\r\n")  # the server opened DATA for no recipient: close it empty
        smtp.getreply()
    if mail[0] != 250:
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    if rcpt[0] not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if data_reply[0] != 354:
        raise smtplib.SMTPDataError(*data_reply)
    content = _LEADING_DOT.sub(b"..", data)
    smtp.send(content + (b".\r\n" if content.endswith(b"\r\n") else b"\r\n.\r\n"))
    reply = smtp.getreply()
    if reply[0] != 250:
        raise smtplib.SMTPDataError(*reply)


def _raise_for(connection, code: int, text: bytes | str) -> None:
    reply = _reply(code, text)
    if 400 <= code < 500:
        _reset(connection)
        raise TransientError(f"the SMTP server answered {reply}")
    _reset(connection)
    raise SmtpRefused(reply)


def _reset(connection) -> None:
    try:
        connection.connection.rset()
    except (smtplib.SMTPException, OSError, AttributeError):
        _drop(connection)


def _drop(connection) -> None:
    with contextlib.suppress(Exception):  # a dead connection may fail to close; it is gone either way
        connection.close()
    connection.connection = None
