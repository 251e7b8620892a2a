"""Free TCP ports on the loopback for tests that start several worker processes (a cluster in TF_CONFIG)."""
from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the system had free just now (each bound to 127.0.0.1 at once, then let go)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
