"""Talking to origins: the HTTP client and the manifest cache in front of it."""
