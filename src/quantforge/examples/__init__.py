"""Example experiment files shipped with the package (the demo runs one of them)."""
