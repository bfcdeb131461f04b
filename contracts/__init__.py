"""Integration contracts: the events services publish to Kafka, one module per stream."""
