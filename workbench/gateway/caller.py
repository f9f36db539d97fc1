"""Who a call is for: the signed-in user, in one workspace, paying from its account."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """Who is asking and whose credits pay: the signed-in user in one workspace's account."""

    user_id: int
    workspace_id: int
    account_id: int
