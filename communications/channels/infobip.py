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

WhatsApp and Viber need a sender Infobip knows (the WhatsApp number, the Viber sender name): the
broadcast's sender, else `INFOBIP_WHATSAPP_SENDER` / `INFOBIP_VIBER_SENDER`.
"""

from __future__ import annotations

import json

import urllib3
from django.conf import settings
from infobip_api_client import ApiClient, Configuration
from infobip_api_client.api.messages_api import MessagesApi
from infobip_api_client.api.sms_api import SmsApi
from infobip_api_client.exceptions import ApiException, ServiceException
from infobip_api_client.models import (
    MessageResponse,
    MessagesApiMessage,
    MessagesApiMessageContent,
    MessagesApiMessageDestination,
    MessagesApiMessageTextBody,
    MessagesApiOutboundMessageChannel,
    MessagesApiRequest,
    MessagesApiRequestMessagesInner,
    MessagesApiToDestination,
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


# Our channel → the Messages API's channel, and the setting that names its default sender.
MESSAGES_API_CHANNELS = {
    "WHATSAPP": (MessagesApiOutboundMessageChannel.WHATSAPP, "INFOBIP_WHATSAPP_SENDER"),
    "VIBER": (MessagesApiOutboundMessageChannel.VIBER_BM, "INFOBIP_VIBER_SENDER"),
}


def _api_client() -> ApiClient:
    configuration = Configuration(
        host=settings.INFOBIP_BASE_URL.rstrip("/"), api_key=settings.INFOBIP_API_KEY, api_key_prefix="App"
    )
    configuration.retries = False  # our own retries, with backoff, on what is transient only
    return ApiClient(configuration)


def _client() -> SmsApi:
    return SmsApi(_api_client())


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


def messages_api_request(messages: list[Outgoing], channel: MessagesApiOutboundMessageChannel, sender: str):
    return MessagesApiRequest(
        messages=[
            MessagesApiRequestMessagesInner(
                MessagesApiMessage(
                    channel=channel,
                    # A WhatsApp number goes without its "+", as the destinations do.
                    sender=(m.sender or sender).lstrip("+"),
                    destinations=[
                        MessagesApiMessageDestination(
                            MessagesApiToDestination(to=m.destination.lstrip("+"), message_id=m.key)
                        )
                    ],
                    content=MessagesApiMessageContent(
                        body=MessagesApiMessageTextBody(text=m.text, type="TEXT")
                    ),
                )
            )
            for m in messages
        ]
    )


class InfobipChannel(BaseBackend):
    """SMS: `POST /sms/3/messages`."""

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        api = _client()
        request = sms_request(messages)
        return _sent(messages, lambda: api.send_sms_messages(sms_request=request, _request_timeout=TIMEOUT))


class InfobipMessagesChannel(BaseBackend):
    """WhatsApp and Viber: `POST /messages-api/1/messages`, one batch a channel."""

    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        api = MessagesApi(_api_client())
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
            if batch:
                request = messages_api_request(batch, channel, default)
                failures |= _sent(
                    batch,
                    lambda r=request: api.send_messages_api_message(
                        messages_api_request=r, _request_timeout=TIMEOUT
                    ),
                    path="/messages-api/1/messages",
                )
        return failures


def _sent(messages: list[Outgoing], post, path: str = "/sms/3/messages") -> dict[int, str]:
    """Post (with retries on what is transient) and read the answer: {profile_id: failure}."""
    try:
        response = with_retries(lambda: _post(post), f"Infobip {path}")
    except ApiException as error:
        reason = f"Infobip refused the request ({error.status}): {_error_text(error)}"
        return {m.profile_id: reason for m in messages}
    return _failures(messages, response)


def _post(post) -> SmsResponse | MessageResponse:
    try:
        return post()
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


def _failures(messages: list[Outgoing], response: SmsResponse | MessageResponse) -> dict[int, str]:
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
