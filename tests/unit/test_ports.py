"""The test harness's ports: below the kernel's ephemeral range (where a client connection could
take one before the server that was promised it binds), free, and never handed out twice."""

import socket

from tests.integration.ports import _ephemeral_low, listen_port, web_port_base


def test_ports_are_below_the_ephemeral_range_free_and_never_repeated():
    low = _ephemeral_low()
    bases = [web_port_base(instances=3) for _ in range(20)]
    ports = [b + 100 * i + o for b in bases for i in range(3) for o in range(5)] + [listen_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    assert all(20000 <= p < low for p in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("0.0.0.0", port))


def test_a_taken_port_is_not_handed_out():
    base = web_port_base()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", base + 105))  # where the next block's fetch port could be
        for _ in range(200):
            b = web_port_base()
            assert base + 105 not in range(b, b + 5)
