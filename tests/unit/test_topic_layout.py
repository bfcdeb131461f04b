"""Every place that may create a topic (a service at start, a relay or a projection finding
the broker lost its log) makes it with the layout the settings give: partitions, copies and
min.insync.replicas. A topic made again after a loss must not come back with one copy."""

from __future__ import annotations

import inspect

from service_runtime import host, outbox, projection
from service_runtime.kafka import DEFAULT_TOPIC_LAYOUT, TopicLayout
from service_runtime.settings import Settings


def test_the_layout_is_the_settings_one() -> None:
    settings = Settings(topic_partitions=6, topic_replication=3, topic_min_insync_replicas=2)
    assert TopicLayout.from_settings(settings) == TopicLayout(6, 3, 2)
    assert TopicLayout(partitions=4) == DEFAULT_TOPIC_LAYOUT


def test_relays_projections_and_hosts_create_topics_only_through_the_layout() -> None:
    for module in (outbox, projection, host):
        source = inspect.getsource(module)
        assert "ensure_topics(" not in source, module.__name__
        assert "topics.ensure(" in source or "topic_layout.ensure(" in source, module.__name__
