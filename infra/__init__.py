"""Launch files and helpers for running pristine on Flink and Dataflow (not part of the package)."""
