"""Runtime shared by every service: settings, business clock, event store and database
factories, Kafka broker factory, the outbox relay and the projection runner."""
