"""Local receivers for the notification tests: an HTTP server and an SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records what it accepts; `fail(request_number)` decides which requests get a 503 (not recorded)."""

    def __init__(self) -> None:
        self.accepted: list[dict] = []
        self.requests = 0
        self.fail = lambda n: False
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as delivery uses it
            disable_nagle_algorithm = True  # else each reply waits out the client's delayed ACK (40 ms)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner.lock:
                    owner.requests += 1
                    failing = owner.fail(owner.requests)
                    if not failing:
                        owner.accepted.append({"path": self.path, "headers": dict(self.headers), "raw": raw,
                                               "body": json.loads(raw)})
                code = 503 if failing else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
