"""``gamyeon live``: camera streams pseudonymized as they arrive, failing closed in real time.

One camera runs as: ``source`` (open the input, decode, stamp each frame's arrival; reconnect
with back-off) -> ``session`` (the file pipeline's detect -> track -> estimate ``FrameWork`` and
``MaskingStage``, with the look-ahead bounded by the delay budget of ``clock``) -> ``encoder``
(one H.264 encode, fanned out to the ``outputs``: an RTSP server, HLS, recorded ``segments``).
``status`` counts what happens per camera; ``cameras`` reads a camera list; ``supervisor`` runs
the cameras of one process and ``ray_actors`` runs them as Ray actors across a cluster.
"""
