"""The mask stage: which pixels each region covers and how they are changed.

``stage`` seals, masks and hands on each decided frame (fail closed); ``planar`` masks a 4:2:0
frame in its own planes, crop by crop, and the whole-frame RGB path is the fallback; ``apply``
runs each region's operator (``gamyeon.operators``) on an upright RGB view; ``silhouette`` and
``headshape`` shape a region's mask (a person's silhouette, a head's outline around a face box).
"""
