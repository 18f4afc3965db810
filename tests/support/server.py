"""The test credentials, a real uvicorn server on loopback, and what the database holds."""

from __future__ import annotations

import socket
import threading
from typing import Any, Literal

import sqlalchemy as sa
import uvicorn
from sqlalchemy.engine import Engine

from storage import tables

TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


ROTATED_SECRET = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24tdGVzdHM="


TEST_TOKEN = "test-token-0123456789abcdef"


SLACK_USER_EMAIL = "casey@example.com"


class LiveServer:
    """uvicorn serving an app on a socket (loopback unless told) bound before the thread starts."""

    def __init__(
        self, app: Any, *, lifespan: Literal["on", "off"] = "off", host: str = "127.0.0.1"
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def counts(engine: Engine) -> dict[str, Any]:
    """What is stored, for asserting that a refused request changed nothing."""
    with engine.connect() as conn:
        return {
            "events": conn.scalar(sa.select(sa.func.count()).select_from(tables.usage_events)),
            "event_quantity": conn.scalar(sa.select(sa.func.sum(tables.usage_events.c.quantity))),
            "daily_quantity": conn.scalar(sa.select(sa.func.sum(tables.usage_daily.c.quantity))),
            "daily_events": conn.scalar(sa.select(sa.func.sum(tables.usage_daily.c.events))),
            "accounts": conn.scalar(sa.select(sa.func.count()).select_from(tables.accounts)),
            "deliveries": conn.scalar(
                sa.select(sa.func.count()).select_from(tables.webhook_deliveries)
            ),
        }
