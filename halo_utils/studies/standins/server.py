"""What both stand-ins share: a threaded HTTP server on 127.0.0.1, on a free port, served while in a ``with`` block."""

from __future__ import annotations

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
