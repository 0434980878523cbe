"""Data drift: statistical tests as a registry, SQL reduction to counts, and the per-column, per-window report."""
