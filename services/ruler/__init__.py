"""Ruler service (régua de cobrança): stages by days overdue and their actions.
The spine gives it its own event store, relay and Kafka connection; the ruler issue fills in
the domain."""
