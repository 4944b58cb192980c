"""A TCP proxy in the test process that the test can cut: the database "goes away" for the app only,
while the machine's PostgreSQL, which other processes share, keeps running."""

import contextlib
import socket
import threading


class CuttableProxy:
    """Forwards 127.0.0.1:port to the upstream port; cut() drops every connection and refuses new ones."""

    def __init__(self, *, port: int, upstream_port: int):
        self.port, self.upstream_port = port, upstream_port
        self.lock = threading.Lock()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.cuts = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listening socket (new connections are refused) and every open connection."""
        with self.lock:
            self.cuts += 1
            listener, self.listener = self.listener, None
            connections, self.connections = self.connections, []
        if listener is not None:
            _close(listener)
        for connection in connections:
            _close(connection)

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # cut while connecting
                    _close(client)
                    _close(upstream)
                    return
                self.connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
