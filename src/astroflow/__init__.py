"""astroflow."""
