"""Negotiation service: payment conditions, offers, agreements, invoices and payments.
The spine gives it its own event store, relay and Kafka connection; the negotiation issue
fills in the domain."""
