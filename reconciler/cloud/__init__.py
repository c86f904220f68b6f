"""Talking to the Alibaba Cloud MQTT management API (ONS OpenAPI 2019-02-14).

Signing (pure, shared with the emulator), credentials, endpoints and the HTTP client with its
retries, pacing and redacted logging. May import: errors, ratelimit (see ARCHITECTURE.md,
layers).
"""
