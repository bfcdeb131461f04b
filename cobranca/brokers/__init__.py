"""Embedded Kafka-protocol brokers for `cobranca up` and the tests.

Two kinds, same interface (:class:`EmbeddedBroker`):

* :class:`TansuBroker`: tiny and instant, topics in memory only (gone after a restart).
* :class:`ApacheKafkaBroker`: real Apache Kafka 4 (KRaft) from Maven Central jars, with data
  on disk that survives a kill and restart.
"""

from cobranca.brokers.apache_kafka import (
    JARS_DIR_ENV,
    KAFKA_VERSION,
    ApacheKafkaBroker,
    default_jars_dir,
    ensure_kafka_jars,
    java_available,
    kafka_jars_present,
    kafka_unavailable_reason,
)
from cobranca.brokers.base import (
    LOOPBACK,
    BrokerError,
    BrokerStartError,
    EmbeddedBroker,
    ProcessBroker,
    free_port,
    free_ports,
    wait_for_kafka,
)
from cobranca.brokers.tansu import TansuBroker

__all__ = [
    "JARS_DIR_ENV",
    "KAFKA_VERSION",
    "LOOPBACK",
    "ApacheKafkaBroker",
    "BrokerError",
    "BrokerStartError",
    "EmbeddedBroker",
    "ProcessBroker",
    "TansuBroker",
    "default_jars_dir",
    "ensure_kafka_jars",
    "free_port",
    "free_ports",
    "java_available",
    "kafka_jars_present",
    "kafka_unavailable_reason",
    "wait_for_kafka",
]
