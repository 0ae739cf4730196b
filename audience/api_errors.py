"""The API's error type and body (Infobip's v2 ApiException shape)."""

from __future__ import annotations

STATUS_IDS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
}


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
