"""The platform's front page: what the platform holds, at a glance."""
