"""Analytics on the pseudonymous tracks of gamyeon's outputs: zones, dwell, loitering, proximity
and contact tracing, without identifying anyone.

The questions cities asked of raw-face CCTV (how many people were in this area, who stayed near
this door too long, whom did this case stand close to) are answered on the pseudonymous person
tracks of the regions sidecar. A person becomes identifiable only through the separately held key,
one track at a time, with a recorded purpose and authority (``gamyeon reveal``); tracing the
contacts of a track is recorded the same way (``tracing``).

Not provided, by design: matching a person across cameras or files by face or body (1:N
identification). Pseudonyms are per source file and dataset, and nothing here links them.

The computations are incremental (``engine.Analyzer``: frame records in, events out), so the same
code serves a whole file and, later, a live stream.
"""
