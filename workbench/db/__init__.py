"""The app's own tables (sign-in, conversations) in the ledger's database, their Alembic history,
and opening the ledger from configuration."""
