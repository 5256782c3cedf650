"""Leads from referrals, inbound enquiries, concerns and the front desk: who owns them, the follow-up
schedule and its nagging, their whole life, and thanking the customer who referred."""
