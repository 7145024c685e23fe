"""The benchmark harness behind `mcpstack bench`: load generators, process accounting and the runs."""
