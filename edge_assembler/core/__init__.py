"""The pure core: bytes and values in, bytes and values out. No event loop, clock or network."""
