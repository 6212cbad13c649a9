"""experiment package."""
