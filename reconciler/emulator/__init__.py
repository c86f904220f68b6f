"""A faithful local emulator of the MQTT management API.

An HTTP server over a SQLite store, with the service's signatures, errors, throttling and
injected faults. May import: cloud (signing), models, errors, ratelimit; nothing of plan,
state or apply (see ARCHITECTURE.md, layers).
"""
