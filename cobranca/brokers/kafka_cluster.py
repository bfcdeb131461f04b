"""A real Apache Kafka cluster on one machine: three KRaft nodes (each broker and controller,
three JVMs from the same jars as `ApacheKafkaBroker`), topics with three copies and
`min.insync.replicas=2`. What `deploy/docker-compose.yml` runs, without Docker: the evidence
that the platform survives the loss of a broker (tests/e2e/test_kafka_cluster.py).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Self

from cobranca.brokers.apache_kafka import (
    STORAGE_TOOL_CLASS,
    ApacheKafkaBroker,
    ensure_kafka_jars,
    new_cluster_id,
)
from cobranca.brokers.base import LOOPBACK, BrokerError, free_ports

__all__ = ["ApacheKafkaCluster", "KafkaClusterNode"]


class KafkaClusterNode(ApacheKafkaBroker):
    """One node of a static KRaft quorum (`controller.quorum.voters`)."""

    name: ClassVar[str] = "kafka"

    def __init__(
        self,
        *,
        node_id: int,
        cluster_id: str,
        voters: str,
        nodes: int,
        data_dir: Path,
        port: int,
        controller_port: int,
        jars_dir: Path | None = None,
        min_insync_replicas: int = 2,
        heap: str = "384m",
    ) -> None:
        super().__init__(
            port,
            data_dir=data_dir,
            jars_dir=jars_dir,
            controller_port=controller_port,
            heap=heap,
        )
        self.node_id = node_id
        self._cluster_id = cluster_id
        self._voters = voters
        self._nodes = nodes
        self._min_isr = min_insync_replicas

    def server_properties(self) -> dict[str, str]:
        props = super().server_properties()
        del props["controller.quorum.bootstrap.servers"]
        copies = str(self._nodes)
        isr = str(self._min_isr)
        props.update(
            {
                "node.id": str(self.node_id),
                "controller.quorum.voters": self._voters,
                "default.replication.factor": copies,
                "min.insync.replicas": isr,
                "offsets.topic.replication.factor": copies,
                "transaction.state.log.replication.factor": copies,
                "transaction.state.log.min.isr": isr,
                "share.coordinator.state.topic.replication.factor": copies,
                "share.coordinator.state.topic.min.isr": isr,
                # A follower that was killed catches up and rejoins the ISR quickly.
                "replica.lag.time.max.ms": "10000",
                # Sized for three JVMs on a 2-core machine.
                "num.network.threads": "1",
                "num.io.threads": "2",
                "num.replica.fetchers": "1",
            }
        )
        return props

    def _format(self) -> None:
        # Static quorum: every node formatted with the same cluster id, no --standalone.
        command = self._java_command(
            STORAGE_TOOL_CLASS,
            "format",
            "--cluster-id",
            self._cluster_id,
            "--config",
            str(self.config_path),
            "--ignore-formatted",
        )
        log = self._open_log(f"format: {' '.join(command)}")
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                timeout=120,
                check=False,
            )
        finally:
            self._release()
        if done.returncode != 0 or not self.is_formatted:
            raise BrokerError(
                f"formatting {self.log_dir} failed ({done.returncode}); log:\n{self.log_tail()}"
            )


class ApacheKafkaCluster:
    """`nodes` KRaft nodes on loopback; ports and cluster id kept in `data_dir/cluster.json`
    so a restart finds its data. `bootstrap` lists every node, as clients of a real cluster
    are configured."""

    name: ClassVar[str] = "kafka-cluster"
    client_env: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        data_dir: Path,
        *,
        nodes: int = 3,
        jars_dir: Path | None = None,
        min_insync_replicas: int = 2,
        heap: str = "384m",
    ) -> None:
        self._data_dir = Path(data_dir).resolve()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._jars_dir = jars_dir
        layout_path = self._data_dir / "cluster.json"
        layout: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            layout = json.loads(layout_path.read_text())
        if layout.get("nodes") != nodes:
            ports = free_ports(2 * nodes)
            layout = {"nodes": nodes, "cluster_id": new_cluster_id(), "ports": ports}
            layout_path.write_text(json.dumps(layout) + "\n")
        ports = [int(p) for p in layout["ports"]]
        cluster_id = str(layout["cluster_id"])
        voters = ",".join(f"{i + 1}@{LOOPBACK}:{ports[nodes + i]}" for i in range(nodes))
        self.nodes = [
            KafkaClusterNode(
                node_id=i + 1,
                cluster_id=cluster_id,
                voters=voters,
                nodes=nodes,
                data_dir=self._data_dir / f"node-{i + 1}",
                port=ports[i],
                controller_port=ports[nodes + i],
                jars_dir=jars_dir,
                min_insync_replicas=min_insync_replicas,
                heap=heap,
            )
            for i in range(nodes)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def log_path(self) -> Path:
        return self.nodes[0].log_path

    @property
    def is_running(self) -> bool:
        return all(node.is_running for node in self.nodes)

    def start(self, timeout: float = 120.0) -> None:
        """Start every node together (none answers before a quorum of controllers is up)."""
        ensure_kafka_jars(self._jars_dir)
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            results = [pool.submit(node.start, timeout) for node in self.nodes]
            errors = [exc for f in results if (exc := f.exception()) is not None]
        if errors:
            self.stop()
            raise errors[0]

    def stop(self, timeout: float | None = None) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(timeout), self.nodes))

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def restart(self, timeout: float = 120.0) -> None:
        self.stop()
        self.start(timeout)

    def wait(self, timeout: float | None = None) -> int:
        return self.nodes[0].wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- node {n.node_id}\n{n.log_tail(lines)}" for n in self.nodes)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
