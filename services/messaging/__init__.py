"""Messaging service: templates, channels, sending windows and conversations.
The spine gives it its own event store, relay and Kafka connection; the messaging issue fills
in the domain."""
