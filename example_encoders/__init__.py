"""Example encoders that run without downloading anything."""
