"""bars package."""
