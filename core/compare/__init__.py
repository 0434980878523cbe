"""Champion vs challenger: both versions on the same rows, with honest uncertainty (hold-out or shadow traffic)."""
