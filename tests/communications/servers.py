"""Real servers in the test process: an SMTP server (aiosmtpd) and an HTTP server that answers
like Infobip's /sms/3/messages and /messages-api/1/messages (and like a webhook gateway), each
recording what it received."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class SmtpRecorder:
    """aiosmtpd handler: keeps each message; refuses recipients in `refuse` with 550; answers
    421 to the first `busy` DATA commands (a transient failure); waits `delay` before 250. With
    `pipelining` its EHLO offers PIPELINING (RFC 2920), as Postfix and most relays do: aiosmtpd
    reads commands one line at a time, so a pipelined group is answered in order."""

    def __init__(self, pipelining: bool = False):
        self.pipelining = pipelining
        self.messages: list = []
        self.refuse: set[str] = set()
        self.busy = 0
        self.delay = 0.0
        self.peers: set = set()  # the client's (host, port) of each connection a message came on
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.busy:
                self.busy -= 1
                return "421 4.3.2 Try again later"
            self.messages.append(message_from_bytes(envelope.content))
            self.peers.add(session.peer)
        if self.delay:
            time.sleep(self.delay)
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


def smtp_server(host: str = "127.0.0.1", pipelining: bool = False) -> tuple[Controller, SmtpRecorder]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line
    recorder = SmtpRecorder(pipelining)
    with socket.socket() as probe:  # a free port (the Controller checks it with a connection)
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname=host, port=port)
    controller.start()
    return controller, recorder


# Infobip's SMS endpoint and its Messages API (WhatsApp, Viber): the same destinations, the same answer.
INFOBIP_PATHS = ("/sms/3/messages", "/messages-api/1/messages", "/whatsapp/1/message/template")


class HttpRecorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []  # {"path", "headers", "body"}
        self.errors: list[int] = []  # statuses to answer first, one a request (e.g. [503])
        self.reject: set[str] = set()  # destinations Infobip rejects
        self.delay = 0.0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def message_ids(self) -> list[str]:
        return [
            destination["messageId"]
            for request in self.requests
            if request["path"] in INFOBIP_PATHS
            for message in request["json"]["messages"]
            for destination in message.get("destinations") or [message]
        ]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: HttpRecorder

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            if self.server.errors:
                status = self.server.errors.pop(0)
                return self._answer(status, {"requestError": {"serviceException": {"text": "busy"}}})
            request = {
                "path": self.path,
                "headers": dict(self.headers),
                "body": body,
                "json": json.loads(body),
            }
            self.server.requests.append(request)
        if self.server.delay:
            time.sleep(self.server.delay)
        if self.path in INFOBIP_PATHS:
            return self._answer(200, self._infobip(request["json"]))
        return self._answer(200, {})

    def _infobip(self, data: dict) -> dict:
        answers = []
        for message in data["messages"]:
            # A WhatsApp template message names one recipient itself: {"from", "to", "messageId"}.
            for destination in message.get("destinations") or [message]:
                rejected = destination["to"] in self.server.reject
                status = (
                    {
                        "groupId": 5,
                        "groupName": "REJECTED",
                        "id": 51,
                        "name": "REJECTED_DESTINATION",
                        "description": "Invalid destination address",
                    }
                    if rejected
                    else {
                        "groupId": 1,
                        "groupName": "PENDING",
                        "id": 26,
                        "name": "PENDING_ACCEPTED",
                        "description": "Message sent to next instance",
                    }
                )
                answers.append(
                    {
                        "messageId": destination["messageId"],
                        "status": status,
                        "destination": destination["to"],
                    }
                )
        return {"bulkId": "bulk-1", "messages": answers}

    def _answer(self, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
