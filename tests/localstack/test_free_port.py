"""free_port: ports that nothing holds, away from the range the kernel hands out on its own."""

import socket
from pathlib import Path

from edgetrain.localstack.processes import LOWEST_PICKED_PORT, free_port


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_picked_below_the_ephemeral_range_and_bind():
    for _ in range(20):
        port = free_port()
        assert LOWEST_PICKED_PORT <= port < _ephemeral_low()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_not_picked(monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        picks = iter([taken, taken, taken + 1 if taken < 60000 else taken - 1])
        monkeypatch.setattr("random.SystemRandom.randrange", lambda self, *a: next(picks))
        assert free_port() != taken
