"""`mcpstack cost`: what each variant costs for a stated workload, from the synthesized stacks and measured throughput.

Money is `Decimal` end to end and rounded (half-up, to the cent) only when shown. Modules: `money` (rounding),
`prices` (the embedded, dated price table), `workload` (presets and YAML), `throughput` (the benchmark results file),
`model` (line items, instance counts, per-variant totals), `templates` (resources in `cdk.out`), `render` (outputs),
`dashboard` (the HTML page), `refresh` (Price List API), `actual` (Cost Explorer, EstimatedCharges), `cli`.
"""
