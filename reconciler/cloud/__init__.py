"""Talking to the Alibaba Cloud MQTT management API (ONS OpenAPI 2019-02-14)."""
