"""Deployment units: each stack wires constructs from `infra/components/`, tags them and publishes outputs."""
