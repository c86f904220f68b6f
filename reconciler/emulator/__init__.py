"""A faithful local emulator of the MQTT management APIs.

``server`` answers HTTP; ``products`` picks the API product by the request's version; ``actions``
(ONS 2019-02-14) and ``onsmqtt_actions`` (OnsMqtt 2020-04-20) hold the handlers, both over one
``store`` (SQLite); ``auth``, ``throttle`` and ``faults`` do what their names say. May import:
cloud (signing), models, errors, ratelimit; nothing of plan, state or apply (see ARCHITECTURE.md,
layers).
"""
