"""Sending result instances to destinations (C-STORE, STOW-RS, a folder)."""
