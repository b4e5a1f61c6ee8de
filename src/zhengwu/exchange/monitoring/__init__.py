"""Monitoring of the exchange from the message log: operational data per service, pages with charts."""
