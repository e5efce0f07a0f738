"""What both stand-ins share: a threaded HTTP server on 127.0.0.1, on a free port, served while in a ``with`` block."""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer


class LocalServer:
    """Serve ``handler`` (a request handler class) on 127.0.0.1; ``port`` is the port it got."""

    def _listen(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


HTTP_FAULTS = ("500", "503", "503-retry", "reset")


def send(handler, status: int, body: bytes, kind: str, **headers):
    """Answer ``status`` with ``body`` of content type ``kind`` (and ``headers``)."""
    handler.send_response(status)
    for key, value in dict(headers, **{"Content-Type": kind, "Content-Length": str(len(body))}).items():
        handler.send_header(key.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def http_fault(handler, fault: str):
    """Answer one of :data:`HTTP_FAULTS`: the error status (``503-retry``: 503 with Retry-After: 1), or the
    connection closed at once without an answer (``reset``)."""
    if fault == "reset":
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        handler.connection.close()
        return
    send(handler, int(fault[:3]), b"error", "text/plain", **({"Retry_After": "1"} if fault == "503-retry" else {}))
