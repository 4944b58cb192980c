"""Ports for the servers the tests start: each test process probes a range of its own."""

import os
import socket


def worker_ports(start: int, stop: int) -> range:
    """This process's share of a port range: pytest-xdist's worker gwN gets it shifted by N x 1000, so
    two test workers never probe, and then bind, the same port."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return range(start + 1000 * worker, stop + 1000 * worker)


def free_port(ports: range, taken: set[int] = frozenset()) -> int:
    """The first port of the range that nothing listens on (and not in taken)."""
    for port in ports:
        if port in taken:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")
