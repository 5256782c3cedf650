"""E-mail: the outbox every message goes through, the templates, and SendGrid."""
