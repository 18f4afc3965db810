"""`steward` as a real process: its path, a clean environment, one run or several side by side."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STEWARD = str(Path(sys.executable).with_name("steward"))


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_URL"))}
    env.update(extra)
    return env


def steward(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STEWARD, *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_together(
    args: list[str], *, env: dict[str, str], cwd: Path, count: int = 2
) -> list[tuple[str, str]]:
    """Run ``count`` `steward` processes side by side; each must succeed; their outputs."""
    workers = [
        subprocess.Popen(
            [STEWARD, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0] * count, outputs
    return outputs


@contextmanager
def serving(
    program: str, *, cwd: Path, env: dict[str, str], args: tuple[str, ...] = ()
) -> Iterator[tuple[str, list[str]]]:
    """`steward serve` on a free port; its URL and the stderr lines up to uvicorn's start."""
    port = free_port()
    proc = subprocess.Popen(
        [program, "serve", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:  # blocks until uvicorn reports, or the process ends
        lines.append(line)
        if "Uvicorn running on" in line:
            break
    try:
        assert proc.poll() is None, "".join(lines)
        yield f"http://127.0.0.1:{port}", lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
