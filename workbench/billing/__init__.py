"""Billing: what workspaces can buy (credit packs today; Stripe checkout and webhooks next)."""
