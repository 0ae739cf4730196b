"""A signed HTTP webhook for any other gateway: the messages of a batch posted as JSON to
`COMMUNICATIONS_WEBHOOK_URL`, signed with HMAC-SHA256 of `COMMUNICATIONS_WEBHOOK_SECRET`.

    POST <url>
    Content-Type: application/json
    X-Audience-Timestamp: 1764750000
    X-Audience-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>." + body)>

    {"messages": [{"key": "12:345", "channel": "SMS", "from": "Acme", "to": "+385…",
                   "subject": "", "text": "…", "html": "", "unsubscribe_url": "",
                   "template": null}]}

`template` is `{"name", "language", "placeholders"}` for a WhatsApp template (a person outside
WhatsApp's 24-hour window, communications.whatsapp).

2xx: delivered, except the keys the answer names in `{"failed": {"<key>": "reason"}}`. 5xx, a
timeout or a dropped connection: tried again with backoff. Any other answer fails the batch's
messages with it. The gateway must de-duplicate by `key`: a batch is posted again when a worker
died before Audience recorded the answer (and after a retry).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from django.conf import settings

from communications.backends import BaseBackend, Outgoing
from communications.channels import TransientError, with_retries

BATCH = 500
TIMEOUT = 30


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _payload(message: Outgoing) -> dict:
    return {
        "key": message.key,
        "channel": message.channel,
        "from": message.sender,
        "to": message.destination,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "unsubscribe_url": message.unsubscribe_url,
        # A WhatsApp template (outside the 24-hour window), else null.
        "template": (
            {
                "name": message.template,
                "language": message.language,
                "placeholders": list(message.placeholders),
            }
            if message.template
            else None
        ),
    }


class WebhookChannel(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        failures: dict[int, str] = {}
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            body = json.dumps({"messages": [_payload(m) for m in batch]}).encode()
            status, answer = with_retries(lambda b=body: _post(b), "the sending webhook")
            by_key = {m.key: m.profile_id for m in batch}
            if not 200 <= status < 300:
                reason = f"The webhook answered {status}: {answer[:300]}"
                failures.update({m.profile_id: reason for m in batch})
                continue
            for key, reason in _failed(answer).items():
                if key in by_key:
                    failures[by_key[key]] = str(reason)[:500]
        return failures


def _failed(answer: str) -> dict:
    try:
        failed = json.loads(answer).get("failed") or {}
    except (ValueError, AttributeError):
        return {}
    return failed if isinstance(failed, dict) else {}


def _post(body: bytes) -> tuple[int, str]:
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        settings.COMMUNICATIONS_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Audience-Timestamp": timestamp,
            "X-Audience-Signature": signature(settings.COMMUNICATIONS_WEBHOOK_SECRET, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - a configured URL
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise TransientError(f"the webhook answered {error.code}") from error
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise TransientError(f"the webhook did not answer: {error}") from error
