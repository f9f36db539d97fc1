"""The analytics layer's one error: a sentence for a person (bad filters, a scope that does not
allow what was asked, a mirror that cannot be read)."""

from __future__ import annotations


class AnalyticsError(Exception):
    """A request the analytics layer refuses, with a message a person can act on."""
