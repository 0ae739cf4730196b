"""SMS through Infobip's API with its official client (`infobip-api-python-client`), configured by
`INFOBIP_BASE_URL` (e.g. https://xxxxx.api.infobip.com) and `INFOBIP_API_KEY`.

A batch is one `POST /sms/3/messages`: one message a recipient (merge fields make each text its
own), each with our idempotency key as its `messageId`, so Infobip recognises a repeated hand-off
as the same message, and the delivery reports come back with our key. A 5xx answer, a timeout or
a dropped connection is retried with backoff; any other refusal of the request fails the batch's
messages with Infobip's answer; a message the answer marks REJECTED fails alone with its reason.
"""

from __future__ import annotations

import json

import urllib3
from django.conf import settings
from infobip_api_client import ApiClient, Configuration
from infobip_api_client.api.sms_api import SmsApi
from infobip_api_client.exceptions import ApiException, ServiceException
from infobip_api_client.models import (
    SmsDestination,
    SmsMessage,
    SmsMessageContent,
    SmsRequest,
    SmsResponse,
    SmsTextContent,
)

from communications.backends import BaseBackend, Outgoing
from communications.channels import TransientError, with_retries

TIMEOUT = (5, 60)  # connect, read (seconds)


def _client() -> SmsApi:
    configuration = Configuration(
        host=settings.INFOBIP_BASE_URL.rstrip("/"), api_key=settings.INFOBIP_API_KEY, api_key_prefix="App"
    )
    configuration.retries = False  # our own retries, with backoff, on what is transient only
    return SmsApi(ApiClient(configuration))


def sms_request(messages: list[Outgoing]) -> SmsRequest:
    return SmsRequest(
        messages=[
            SmsMessage(
                sender=m.sender or None,
                destinations=[SmsDestination(to=m.destination.lstrip("+"), message_id=m.key)],
                content=SmsMessageContent(SmsTextContent(text=m.text)),
            )
            for m in messages
        ]
    )


class InfobipChannel(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        api = _client()
        request = sms_request(messages)
        try:
            response = with_retries(lambda: _post(api, request), "Infobip /sms/3/messages")
        except ApiException as error:
            reason = f"Infobip refused the request ({error.status}): {_error_text(error)}"
            return {m.profile_id: reason for m in messages}
        return _failures(messages, response)


def _post(api: SmsApi, request: SmsRequest) -> SmsResponse:
    try:
        return api.send_sms_messages(sms_request=request, _request_timeout=TIMEOUT)
    except ServiceException as error:
        raise TransientError(f"Infobip answered {error.status}") from error
    except urllib3.exceptions.HTTPError as error:  # timeouts, refused or dropped connections
        raise TransientError(f"Infobip did not answer: {error}") from error


def _error_text(error: ApiException) -> str:
    try:
        data = json.loads(error.body or "")
        return data["requestError"]["serviceException"]["text"]
    except (ValueError, KeyError, TypeError):
        return (error.body or error.reason or "").strip()[:300]


def _failures(messages: list[Outgoing], response: SmsResponse) -> dict[int, str]:
    by_key = {m.key: m.profile_id for m in messages}
    failures = {}
    for detail in response.messages or []:
        status = detail.status
        group = getattr(status.group_name, "value", status.group_name) if status else None
        if group == "REJECTED" and detail.message_id in by_key:
            failures[by_key[detail.message_id]] = (
                f"Infobip rejected it: {status.name or ''} {status.description or ''}".strip()[:500]
            )
    return failures
