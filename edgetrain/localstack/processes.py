"""Child processes the local stack and the tests own: started in their own process group, logged to a file,
stopped whole. One lifecycle for all of them: the emulators, the functions and `edgetrain serve`
(edgetrain_service.process.ServiceProcess builds on ManagedProcess).

The emulators are shell scripts that start Java, and functions-framework may fork workers: signalling only the
direct child would leave those running. Each process therefore gets its own session (process group), and
stopping it signals the whole group until nothing of it is left.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from edgetrain.localstack.errors import ProcessStartError

LOCALHOST = "127.0.0.1"


LOWEST_PICKED_PORT = 20000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to right now, picked at random below the kernel's
    ephemeral range. Ports in that range are also what the kernel hands out as the source ports of outgoing
    connections and to other processes' bind(0), so a port picked there can be taken between the pick and
    the bind of the process meant for it (seen: the service's port, while the emulators started)."""
    ephemeral_low = _ephemeral_range_start()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(LOWEST_PICKED_PORT, max(ephemeral_low, LOWEST_PICKED_PORT + 1))
        if _bindable(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded machine: let the OS pick
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def _bindable(port: int) -> bool:
    """Nothing is bound to `port` on any address: binding the wildcard address fails if anything is."""
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((address, port))
        except OSError as error:
            if family == socket.AF_INET6 and error.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                continue  # no IPv6 here
            return False
    return True


def _ephemeral_range_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when `url` answers a GET with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def port_open(port: int, host: str = LOCALHOST, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver the first one. A Ctrl-C raised inside
    subprocess.Popen after the fork, before `self.popen` is set, would leave a child nobody knows to stop."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers run in the main thread only; nothing to hold here
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: caught.append(signum)) for signum in held
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if caught:
            signal.raise_signal(caught[0])


class ManagedProcess:
    """One command run as the leader of a new process group, with stdout+stderr going to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        term_group: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        # False: stop() sends SIGTERM to the leader alone, for a process that stops its own children in order
        # (edgetrain serve puts its workers' jobs back in the queue); SIGKILL still takes the whole group.
        self.term_group = term_group
        self.popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log, _interrupts_held():
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # own process group: stop() can reach the Java/worker children
            )
        return self

    def exited(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, is_ready: Callable[[], bool], timeout: float, what: str = "ready") -> None:
        """Poll `is_ready` until true; on exit or timeout stop the process and raise ProcessStartError.
        Ctrl-C or `kill` while waiting stops it too: the caller's `with` block has not begun, so its exit
        would not run."""
        try:
            self._poll_ready(is_ready, timeout, what)
        except BaseException:
            self.stop()
            raise

    def _poll_ready(self, is_ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise ProcessStartError(
                    f"{self.name} exited with code {self.popen.returncode} before it was {what}; log "
                    f"{self.log_path}:\n{self.log_tail()}"
                )
            if is_ready():
                return
            time.sleep(0.2)
        raise ProcessStartError(
            f"{self.name} was not {what} after {timeout:.0f} s; log {self.log_path}:\n{self.log_tail()}"
        )

    def group_alive(self) -> bool:
        """True while any process of this process group still exists."""
        if self.popen is None:
            return False
        self.popen.poll()  # reap the leader if it has exited, so a zombie does not count
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the whole group (or its leader), SIGKILL what is left after `grace` seconds; returns the
        leader's exit code when none of the group is left."""
        if self.popen is None:
            return None
        if self.term_group:
            self._signal_group(signal.SIGTERM)
        elif self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.group_alive():
            self._signal_group(signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self.group_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        try:
            self.popen.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole group at once, like a crash or power loss; returns once the leader is reaped."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
