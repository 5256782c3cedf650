"""Outreach: ask three customers for referrals every day, and follow up every lead in minutes."""

__version__ = "0.1.0"
