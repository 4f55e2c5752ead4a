"""A loopback HTTP/1.1 proxy that loses answers: it forwards a matching request to the
real server, reads the server's whole answer (so the server has done the work) and then
closes the client's connection instead of passing the answer on."""

from __future__ import annotations

import socket
import threading


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message (head plus Content-Length body); b"" when the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class DroppingProxy:
    """Listen on a free port; lose the answers to the first ``drops`` requests whose path
    ends with ``suffix``. ``dropped`` counts the answers lost so far."""

    def __init__(self, upstream_port: int, suffix: str, drops: int = 1) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._suffix = suffix.encode()
        self._left = drops
        self.dropped = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            while True:
                request = _read_message(client)
                if not request:
                    return
                with socket.create_connection(self._upstream) as upstream:
                    upstream.sendall(request)
                    answer = _read_message(upstream)
                path = request.split(b" ", 2)[1]
                with self._lock:
                    drop = self._left > 0 and path.endswith(self._suffix)
                    if drop:
                        self._left -= 1
                        self.dropped += 1
                if drop:
                    client.shutdown(socket.SHUT_RDWR)
                    return
                client.sendall(answer)
