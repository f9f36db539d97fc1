"""The credit ledger: accounts, grants, two-phase holds, idempotency and prices.

A library with no knowledge of Streamlit or providers. Start at ``ledger.service.Ledger``.
"""
