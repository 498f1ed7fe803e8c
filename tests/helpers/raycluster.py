"""A throwaway Ray cluster on loopback for tests: started with ``ray start --head``, stopped alone.

``ray stop`` would stop every Ray process of the user; instead the head runs
``ray start --head --block`` in its own session, and stopping sends SIGTERM to
that process, which takes down its own GCS, raylet and workers (SIGKILL to
the session if it does not). Its temp dir is a short private one: Ray puts
Unix sockets there, whose paths may not exceed ~107 bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalCluster:
    """``with LocalCluster(cpus=2) as cluster: ... cluster.address ...``"""

    def __init__(self, cpus: int = 2, env: dict[str, str] | None = None) -> None:
        self.cpus = cpus
        self.env = env or {}
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mtray-", dir="/tmp"))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LocalCluster:
        ray = Path(sys.executable).with_name("ray")
        command = [
            str(ray), "start", "--head", "--block", f"--port={self.port}", "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus}", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
        ]
        self.log = (self.temp_dir / "ray-start.log").open("wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            # No graceful drain on stop: the test is over, nothing is left to finish.
            env={**os.environ, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", **self.env},
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"ray start exited with {self.process.returncode}: {self.log_text()[-2000:]}")
            # The head is up when the GCS listens and the node has registered its address file.
            if (self.temp_dir / "ray_current_cluster").exists() and _listening(self.port):
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"ray start did not come up in 90 s: {self.log_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        return (self.temp_dir / "ray-start.log").read_text(errors="replace")

    def pids(self) -> list[int]:
        """The cluster's processes: the head's session (it has its own) and everything under it."""
        if self.process is None:
            return []
        session = self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getsid(int(entry.name)) == session:
                        found.append(int(entry.name))
                except (ProcessLookupError, PermissionError):
                    continue
        return found

    def actor_pids(self, marker: str) -> list[int]:
        """The cluster's processes whose title names ``marker`` (Ray titles actors ``ray::Class...``)."""
        found = []
        for pid in self.pids():
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in title:
                found.append(pid)
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Anything of the session that outlived the head.
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
