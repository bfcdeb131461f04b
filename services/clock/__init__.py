"""Clock service: the platform's business calendar. It publishes one `DayStarted` per date on
`clock.days` (every day at a configured time in America/Sao_Paulo, or on command when manual);
every service takes "today" from that topic."""
