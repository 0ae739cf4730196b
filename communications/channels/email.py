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
statement inserted are given to the server. A repeated hand-off after a worker died is skipped, and
the SMTP server receives each Message-ID at most once. The price: a worker killed between a round's
commit and the server's acceptance loses what that round had not handed over yet (at most
`CLAIM_BATCH × SMTP_CONNECTIONS` messages; they count as sent).
"""

from __future__ import annotations

import contextlib
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.utils import formataddr
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import sanitize_address
from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from communications.backends import BaseBackend, Outgoing
from communications.channels import TransientError, with_retries
from communications.models import HandOff

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Messages a connection is given per round: one claim statement and one commit for all of them.
CLAIM_BATCH = 50


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


def email_build(message: Outgoing) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=from_header(message),
        to=[message.destination],
        headers=list_headers(message),
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    return email


def handoff_claim(*, keys: list[str]) -> set[str]:
    """Record that `keys` are being handed over, in one statement and one commit; returns the keys
    this call inserted (the others were handed over before, or by a worker claiming them now)."""
    if not keys:
        return set()
    table, column = db.ops.quote_name(HandOff._meta.db_table), db.ops.quote_name("key")
    created = db.ops.adapt_datetimefield_value(timezone.now())
    values = ", ".join(["(%s, %s)"] * len(keys))
    params = [value for key in keys for value in (key, created)]
    # ON CONFLICT … RETURNING (PostgreSQL, SQLite 3.35+) names exactly the rows this insert made,
    # which a select-then-insert would not under two workers claiming the same chunk.
    sql = (
        f"INSERT INTO {table} ({column}, created_at) VALUES {values} "
        f"ON CONFLICT ({column}) DO NOTHING RETURNING {column}"
    )
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


class SmtpChannel(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        failures: dict[int, str] = {}
        lanes = settings.SMTP_CONNECTIONS
        connections = [get_connection(SMTP_BACKEND, fail_silently=False) for _ in range(lanes)]
        try:
            with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="smtp") as pool:
                step = CLAIM_BATCH * lanes
                for start in range(0, len(messages), step):
                    round_ = messages[start : start + step]
                    claimed = handoff_claim(keys=[message.key for message in round_])
                    todo = [message for message in round_ if message.key in claimed]
                    # The threads only talk SMTP: every database write stays in this thread.
                    for lane_failures in pool.map(
                        _deliver_all, connections, [todo[i::lanes] for i in range(lanes)]
                    ):
                        failures.update(lane_failures)
        finally:
            for connection in connections:
                connection.close()
        return failures


def _deliver_all(connection, messages: list[Outgoing]) -> dict[int, str]:
    """Hand `messages` over on `connection`, one after another: {profile_id: the server's refusal}."""
    failures: dict[int, str] = {}
    for message in messages:
        email = email_build(message)
        try:
            with_retries(lambda e=email: _deliver(connection, e), f"SMTP to {message.destination}")
        except SmtpRefused as refused:
            failures[message.profile_id] = str(refused)
    return failures


class SmtpRefused(Exception):
    """The server refused this message for good (a 5xx reply)."""


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {text}".strip()[:500]


def _deliver(connection, email: EmailMultiAlternatives) -> None:
    try:
        if connection.connection is None:
            connection.open()
        encoding = email.encoding or settings.DEFAULT_CHARSET
        sender = sanitize_address(email.from_email, encoding)
        recipients = [sanitize_address(address, encoding) for address in email.recipients()]
        connection.connection.sendmail(sender, recipients, email.message().as_bytes(linesep="\r\n"))
    except smtplib.SMTPRecipientsRefused as error:
        code, text = next(iter(error.recipients.values()))
        _raise_for(connection, code, text)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        _raise_for(connection, error.smtp_code, error.smtp_error)
    except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
        _drop(connection)
        raise TransientError(f"the SMTP server did not answer: {error}") from error


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
