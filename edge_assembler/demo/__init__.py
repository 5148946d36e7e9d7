"""Demo media, a live encoder and a local origin, so the proxy runs without a CDN.

``media`` generates cached VOD assets with ffmpeg, ``live`` runs a real-time HLS
encoder, and ``origin`` serves both over aiohttp, adding SCTE-35-style cue tags to live
media playlists.
"""
