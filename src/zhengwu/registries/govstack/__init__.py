"""GovStack Digital Registries BB API over the base registries (see services)."""
