"""The manager's numbers: calls, referrals, speed to lead, excuses, and who refers."""
