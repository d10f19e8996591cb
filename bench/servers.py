"""Server processes of the benchmark: start one, wait until it answers, read its CPU, stop it.

Every server runs in its own session (``start_new_session``) so that stopping it reaches its
master and workers and nothing else; its output goes to a log file (never a pipe, which would
block it once full). Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import HOST, http_get
from load import process_tree


@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen
    log: Path
    settings: list[str] = field(default_factory=list)  # what the report says of its configuration

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the master (graceful), then SIGKILL to its process group (its own session)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def start_server(name: str, cmd: list[str], *, port: int, log: Path, cwd: Path, env: dict[str, str],
                 ready_path: str = "/conformance", startup_timeout: float = 180.0) -> Server:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **env},
                                start_new_session=True)
    server = Server(name, f"http://{HOST}:{port}", proc, log)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            status, _, _ = http_get(server.base + ready_path, 10)
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop(grace=5)
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{name} n'a pas démarré en {startup_timeout:.0f} s (journal {log}) :\n{tail}")


def tree_cpu_seconds(root: int | None) -> float:
    """User + system CPU of ``root`` and its live descendants (a worker that died takes its share)."""
    if root is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def wait_idle(roots: list[int | None], limit: float) -> float:
    """Wait (at most ``limit`` s) until the trees stop burning CPU: requests the client gave up on
    are still computed by sync workers (and their database backends) and would weigh on the next run."""
    start = time.monotonic()
    last = sum(tree_cpu_seconds(r) for r in roots)
    while time.monotonic() - start < limit:
        time.sleep(0.25)
        now = sum(tree_cpu_seconds(r) for r in roots)
        if now - last < 0.025:  # under a tenth of a core: idle (a tick is 10 ms)
            break
        last = now
    return time.monotonic() - start


def postmaster_pid(cluster_dir: Path) -> int | None:
    """The PostgreSQL postmaster of ``scripts/postgres.sh``'s cluster: its backends are its children."""
    try:
        return int((cluster_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
