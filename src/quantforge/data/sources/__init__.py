"""data/sources package."""
