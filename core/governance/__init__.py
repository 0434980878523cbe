"""Governance: what is live, tier policies, deployment requests and four-eyes decisions, deploying, re-certifying,
and the evidence pack on top (see docs/architecture.md for who may import what)."""
