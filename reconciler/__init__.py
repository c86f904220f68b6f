"""Declarative reconciler for the Group IDs of Alibaba Cloud MQTT instances."""

from __future__ import annotations

__version__ = "0.1.0"
