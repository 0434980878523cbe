"""Notifications: hooks (webhooks and e-mail subscriptions), delivery of the outbox, scheduled monitoring."""
