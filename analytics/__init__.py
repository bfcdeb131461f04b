"""Analytics from the event streams: the collection indicators (FPD, recovery, agreement and
break rates) computed from the Kafka topics alone, replayed from offset zero, with no access
to any service's database.

- `analytics.facts`: integration events -> plain facts (placements, agreements, payments...);
- `analytics.indicators`: pure functions over facts;
- `analytics.replay`: reads the topics from offset zero into facts;
- `analytics.reports`: the figures as pydantic models (the API's and the CLI's JSON);
- `analytics.frames`: the figures as polars DataFrames, for notebooks;
- `analytics.charts`: PNG charts (matplotlib);
- `analytics.cli`: `cobranca analytics fpd|recovery|agreements`.
"""
