"""Helpers shared by tests; never imported by the hub itself."""
