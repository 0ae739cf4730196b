"""SMS, WhatsApp and Viber through Infobip's API with its official client
(`infobip-api-python-client`), configured by `INFOBIP_BASE_URL` (e.g.
https://xxxxx.api.infobip.com) and `INFOBIP_API_KEY`.

A batch of SMS is one `POST /sms/3/messages`; a batch of WhatsApp or Viber messages is one
`POST /messages-api/1/messages` (Infobip's Messages API, which carries both: channel `WHATSAPP`,
or `VIBER_BM` for Viber Business Messages), a text message each. Either way there is one message a
recipient (merge fields make each text its own), each with our idempotency key as its
`messageId`, so Infobip recognises a repeated hand-off as the same message, and the delivery
reports (the same `{"results": [{"messageId", "status": {"groupName"}}]}` on the same webhook)
come back with our key. A 5xx answer, a timeout or a dropped connection is retried with backoff;
any other refusal of the request fails the batch's messages with Infobip's answer; a message the
answer marks REJECTED fails alone with its reason.

A WhatsApp message with a template (a person outside WhatsApp's 24-hour window, see
communications.whatsapp) goes to `POST /whatsapp/1/message/template` instead, a batch of them in
one request, with the same `messageId`.

WhatsApp and Viber need a sender Infobip knows (the WhatsApp number, the Viber sender name): the
broadcast's sender, else `INFOBIP_WHATSAPP_SENDER` / `INFOBIP_VIBER_SENDER`.
"""

from __future__ import annotations

import json

import urllib3
from django.conf import settings
from infobip_api_client import ApiClient, Configuration
from infobip_api_client.exceptions import ApiException, ServiceException

from communications.backends import BaseBackend, Outgoing
from communications.channels import TransientError, with_retries

TIMEOUT = (5, 60)  # connect, read (seconds)
SMS_PATH = "/sms/3/messages"
MESSAGES_API_PATH = "/messages-api/1/messages"
WHATSAPP_TEMPLATE_PATH = "/whatsapp/1/message/template"

# Our channel → the Messages API's channel, and the setting that names its default sender.
MESSAGES_API_CHANNELS = {
    "WHATSAPP": ("WHATSAPP", "INFOBIP_WHATSAPP_SENDER"),
    "VIBER": ("VIBER_BM", "INFOBIP_VIBER_SENDER"),
}


def _api_client() -> ApiClient:
    configuration = Configuration(
        host=settings.INFOBIP_BASE_URL.rstrip("/"), api_key=settings.INFOBIP_API_KEY, api_key_prefix="App"
    )
    configuration.retries = False  # our own retries, with backoff, on what is transient only
    return ApiClient(configuration)


def sms_request(messages: list[Outgoing]) -> dict:
    """The body of `POST /sms/3/messages`, as the client's `SmsRequest` serialises it."""
    return {
        "messages": [
            {
                **({"sender": m.sender} if m.sender else {}),
                "destinations": [{"to": m.destination.lstrip("+"), "messageId": m.key}],
                "content": {"text": m.text},
            }
            for m in messages
        ]
    }


def messages_api_request(messages: list[Outgoing], channel: str, sender: str) -> dict:
    """The body of `POST /messages-api/1/messages`, as the client's `MessagesApiRequest`
    serialises it: a text message a recipient."""
    return {
        "messages": [
            {
                "channel": channel,
                # A WhatsApp number goes without its "+", as the destinations do.
                "sender": (m.sender or sender).lstrip("+"),
                "destinations": [{"to": m.destination.lstrip("+"), "messageId": m.key}],
                "content": {"body": {"type": "TEXT", "text": m.text}},
            }
            for m in messages
        ]
    }


def whatsapp_template_request(messages: list[Outgoing], sender: str) -> dict:
    """The body of `POST /whatsapp/1/message/template`: each person's approved template, its
    language and body placeholders (outside WhatsApp's 24-hour window)."""
    return {
        "messages": [
            {
                "from": (m.sender or sender).lstrip("+"),
                "to": m.destination.lstrip("+"),
                "messageId": m.key,
                "content": {
                    "templateName": m.template,
                    "templateData": {"body": {"placeholders": list(m.placeholders)}},
                    "language": m.language,
                },
            }
            for m in messages
        ]
    }


def post(api_client: ApiClient, path: str, body: dict) -> dict:
    """POST `body` through the official client's `ApiClient` (its configuration, `App` key
    authorisation, connection pool and error types: `ServiceException` for a 5xx, `ApiException`
    for another refusal) and return the answer's JSON.

    The body goes as plain dicts, not as the client's pydantic models (`SmsRequest`, …), and the
    answer is read as JSON, not as `SmsResponse`: building, validating and serialising those
    models for a batch of 1,000 cost ~0.08 ms a message, as much as the rest of an SMS's hand-over
    (measured in docs/benchmarks/sends.md); the JSON is the same."""
    method, url, headers, data, post_params = api_client.param_serialize(
        method="POST",
        resource_path=path,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["APIKeyHeader"],
    )
    response = api_client.call_api(
        method, url, header_params=headers, body=data, post_params=post_params, _request_timeout=TIMEOUT
    )
    response.read()
    if not 200 <= response.status <= 299:
        # The client's own mapping of an error answer to its exceptions (raises).
        api_client.response_deserialize(response_data=response, response_types_map={})
    return json.loads(response.data or b"{}")


class InfobipChannel(BaseBackend):
    """SMS: `POST /sms/3/messages`."""

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        client, body = _api_client(), sms_request(messages)
        return _sent(messages, lambda: post(client, SMS_PATH, body))


class InfobipMessagesChannel(BaseBackend):
    """WhatsApp and Viber: `POST /messages-api/1/messages`, one batch a channel."""

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        client = _api_client()
        failures: dict[int, str] = {}
        for channel_name in sorted({m.channel for m in messages}):
            batch = [m for m in messages if m.channel == channel_name]
            channel, setting = MESSAGES_API_CHANNELS[channel_name]
            default = getattr(settings, setting)
            missing = [m for m in batch if not (m.sender or default)]
            for m in missing:
                failures[m.profile_id] = (
                    f"{channel_name.title()} needs a sender Infobip knows: choose one of the "
                    f"account's senders, or set {setting}."
                )
            batch = [m for m in batch if m.sender or default]
            templates = [m for m in batch if m.template]
            if templates:  # WHATSAPP outside the 24-hour window
                body = whatsapp_template_request(templates, default)
                failures |= _sent(
                    templates,
                    lambda b=body: post(client, WHATSAPP_TEMPLATE_PATH, b),
                    path=WHATSAPP_TEMPLATE_PATH,
                )
            batch = [m for m in batch if not m.template]
            if batch:
                body = messages_api_request(batch, channel, default)
                failures |= _sent(
                    batch, lambda b=body: post(client, MESSAGES_API_PATH, b), path=MESSAGES_API_PATH
                )
        return failures


def _sent(messages: list[Outgoing], call, path: str = SMS_PATH) -> dict[int, str]:
    """Post (with retries on what is transient) and read the answer: {profile_id: failure}."""
    try:
        response = with_retries(lambda: _post(call), f"Infobip {path}")
    except ApiException as error:
        reason = f"Infobip refused the request ({error.status}): {_error_text(error)}"
        return {m.profile_id: reason for m in messages}
    return _failures(messages, response)


def _post(call) -> dict:
    try:
        return call()
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


def _failures(messages: list[Outgoing], response: dict) -> dict[int, str]:
    by_key = {m.key: m.profile_id for m in messages}
    failures = {}
    for detail in response.get("messages") or []:
        status = detail.get("status") or {}
        if status.get("groupName") == "REJECTED" and detail.get("messageId") in by_key:
            failures[by_key[detail["messageId"]]] = (
                f"Infobip rejected it: {status.get('name') or ''} {status.get('description') or ''}".strip()[
                    :500
                ]
            )
    return failures
