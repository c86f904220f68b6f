"""``reconciler inspect``: the device and report queries (who is online, history, traffic).

- ``timespec``: moments and ranges as people write them (``30m``, ISO 8601, epoch ms).
- ``windows``: cutting a range into the one-day windows the service answers, and stitching.
- ``pacing``: how many calls a question costs and how long the rate limit makes it take.
- ``queries``: the questions asked of the client, answered as plain data; the service's
  "not found" codes become one-line ``InspectError``s naming what was asked about.

Read-only by design: nothing here takes the state lock or writes anything.
"""
