"""Production monitoring: prediction logs in, reports of drift and performance over time, alerts and health."""
