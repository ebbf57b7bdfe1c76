"""Ports for the servers a test or bench starts (stages' health ports, the search API, private
brokers).

A server binds its port seconds after the test picks it. Meanwhile any client connection on the
machine may take that port as its local end if it lies in the kernel's ephemeral range, and a
stage whose port is taken exits at start (stop 18's CI lost a run this way: the lifecycle test's
ports were picked next to an ephemeral one). So ports come from below the ephemeral range, are
free when picked, and are never handed out twice in one process."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# 29000-29999 holds the chaos test's private broker and NER server; 19000-19999 the local cluster.
_RESERVED = (range(19000, 20000), range(29000, 30000))
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))  # the stages' web servers bind every interface
            return True
        except OSError:
            return False


def _take(offsets: list[int]) -> int:
    """A base port (a multiple of 10) such that base + each offset is free and unused here."""
    top = min(_ephemeral_low(), 65535) - max(offsets) - 1
    bases = list(range(20000, top, 10))
    random.Random().shuffle(bases)
    for base in bases:
        ports = [base + offset for offset in offsets]
        if any(p in r for p in ports for r in _RESERVED) or _handed_out.intersection(ports):
            continue
        if all(_free(p) for p in ports):
            _handed_out.update(ports)
            return base
    raise RuntimeError("no free ports below the ephemeral range")


def listen_port() -> int:
    """One port a server of the test can listen on."""
    return _take([0])


def web_port_base(instances: int = 1) -> int:
    """A NEWSFLOW_WEB_PORT_BASE whose stage ports (base + 0..4) are free, and base + 100 * i + 0..4
    for each further instance i a bench starts."""
    return _take([100 * i + offset for i in range(instances) for offset in range(5)])
