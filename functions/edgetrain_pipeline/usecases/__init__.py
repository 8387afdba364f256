"""Use cases: plain functions over a decoded event and injected adapters (deps.Deps)."""
