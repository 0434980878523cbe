"""Fairness: how a model treats the groups its card declares sensitive, before approval and in production."""
