"""The app's addresses that e-mails link to: one place, so every e-mail opens the same pages."""

from __future__ import annotations


def lead_url(app_url: str, lead_id: int) -> str:
    """Today, with this lead opened at the top (the owner's page)."""
    return f"{app_url}/?lead={lead_id}"


def reassign_url(app_url: str, lead_id: int) -> str:
    """The Team page, with this lead in its reassign control (the manager's page)."""
    return f"{app_url}/team?lead={lead_id}"


def lead_page_url(app_url: str, lead_id: int) -> str:
    """The Leads page with this lead's whole history open: for leads past their first conversation."""
    return f"{app_url}/leads?lead={lead_id}"
