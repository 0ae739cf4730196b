"""The API's error type and body (Infobip's v2 ApiException shape)."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, text: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.errors = errors


def error_body(message_id: str, text: str, errors: dict | None = None) -> dict:
    exception: dict = {"messageId": message_id, "text": text}
    if errors:
        exception["validationErrors"] = errors
    return {"requestError": {"serviceException": exception}}
