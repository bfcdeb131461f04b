"""Portfolio service: imports carteiras and owns the debts of each tenant."""
