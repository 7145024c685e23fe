"""Constructs, one capability per module; stacks in `infra/stacks/` only wire them together."""
