"""Talking to the Alibaba Cloud MQTT management APIs.

Two generations describe the same thing, a GID on an instance: ONS 2019-02-14 (``client``,
``OnsMqttClient``, endpoint ``ons.<region>``) and OnsMqtt 2020-04-20 (``onsmqtt``,
``OnsMqtt2020Client``, endpoint ``onsmqtt.<region>``). Both sit on one request core (``rpc``:
signing, retries, pacing, redaction, debug lines) and one error table (``error_codes``), and list
GIDs as the same ``responses.GroupIdRecord``, so the planner and applier take either. A run's
clients come from one ``registry.ClientRegistry``, paced from one ``pacing.RateLimits`` after each
product's declared ``Pacing``. Signing is pure and shared with the emulator. May import: errors,
models, ratelimit (see ARCHITECTURE.md, layers).
"""
