"""A faithful local emulator of the MQTT management API."""
