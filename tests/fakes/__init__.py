"""Fakes of outside services at the wire (HTTP), never of our own code or the client libraries."""
