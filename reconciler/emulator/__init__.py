"""A faithful local emulator of the MQTT management APIs.

``server`` answers HTTP; ``products`` picks the API product by the request's version;
``ons_actions`` (ONS 2019-02-14, ``OnsActions``) and ``onsmqtt_actions`` (OnsMqtt 2020-04-20,
``OnsMqttActions``) hold the handlers, both over one ``store`` (SQLite, a module per aggregate);
``sts_actions`` (STS 2015-04-01, with ``oidc`` for its JWTs), ``metadata`` (the ECS metadata
endpoints) and ``credentials_uri`` hand out temporary credentials through ``issuing``; ``tls``
makes the HTTPS listener's certificate; ``fixture`` seeds it from YAML; ``auth``, ``throttle``
and ``faults`` do what their names say; ``mqtt`` is the data plane. May import: cloud
(signing), models, errors, ratelimit, duration; nothing of plan, state or apply (see
ARCHITECTURE.md, layers).
"""
