"""Bundled SYNTHETIC sample (see README.md here)."""
