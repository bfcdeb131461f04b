"""`cobranca simulate`: a synthetic but plausible world of debtors, operators and a bank,
driving the real running platform day by day (docs/simulator.md)."""
