"""Talking to the Alibaba Cloud MQTT management APIs.

Two generations describe the same thing, a GID on an instance: ONS 2019-02-14 (``client``,
``OnsClient``, endpoint ``ons.<region>``) and OnsMqtt 2020-04-20 (``onsmqtt``,
``OnsMqttClient``, endpoint ``onsmqtt.<region>``). Both sit on one request core (``rpc``:
signing, retries, pacing, redaction, debug lines) and one error table (``error_codes``), list
GIDs as the same ``responses.GroupIdRecord`` and offer the same ``capabilities``, so the planner
and applier take either without asking which. A run's clients come from one
``registry.ClientRegistry``, paced from one ``pacing.RateLimits`` after each product's declared
``Pacing``, all signing with the one credentials provider the default chain
(``credentials``) resolved for the run. Signing is pure and shared with the emulator. May
import: errors, models, ratelimit (see ARCHITECTURE.md, layers).
"""
