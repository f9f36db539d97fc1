"""Providers: small classes that make one AI call each (``base`` says what they must do)."""
