"""Real servers for tests and benchmarks: a free loopback port, and `askpfg serve` started and
waited on until healthy, so every caller starts, checks and stops it the same way."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is listening on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(process: subprocess.Popen, url: str, log_path: Path, timeout: float) -> None:
    """Poll /api/health until it says ready; a RuntimeError with the log's tail if the server dies or is late."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not ready in {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).json().get("ready"):
                return
        except httpx.HTTPError:  # not listening yet
            pass
        time.sleep(1)


@contextmanager
def running_server(env: Mapping[str, str], log_path: Path, timeout: float = 180) -> Iterator[str]:
    """`python -m askpfg serve` on a free loopback port with this environment, its output in `log_path`;
    yields the base URL once ready and stops the server (by its PID) on exit."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "askpfg", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_ready(process, url, log_path, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
