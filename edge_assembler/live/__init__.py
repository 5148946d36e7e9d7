"""Live personalisation state shared by every session of a stream (DESIGN §4)."""
