"""Gateway service: the one door (HTTP) for the portal, chatbot, operators and client systems,
and the projections (read models) it serves."""
