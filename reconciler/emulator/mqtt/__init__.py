"""The emulator's MQTT data plane: devices connect, publish and subscribe as to the service."""
