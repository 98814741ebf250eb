"""The live encoder: one H.264 encode per camera, whose packets every output shares.

Encoding once and muxing the same packets into the RTSP publisher, the HLS playlist and the
recorded segments costs one encode instead of three. x264 runs with ``tune=zerolatency`` (no
B-frames, no look-ahead, sliced threads: each frame's packet comes out as the frame goes in) and
a keyframe at least every ``gop_seconds``, so a viewer joining or an HLS segment starts within
that; a recorded segment starts with a forced keyframe (an IDR: ``forced-idr``). Parameter sets
travel in-band with every keyframe (no global header), which the RTSP and MPEG-TS muxers pass on
and the MP4 muxer turns into its header.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from gamyeon.errors import OutputError, UsageError
from gamyeon.live.config import Encoding
from gamyeon.media.encode import MPEG_RANGE, from_rgb, tag
from gamyeon.types import Array, Colour


class LiveEncoder:
    """Encodes masked frames (RGB arrays or decoded frames) with their session pts."""

    def __init__(
        self, width: int, height: int, time_base: Fraction, rate: Fraction, colour: Colour, settings: Encoding
    ):
        #: 4:2:0 needs even sizes; an odd-sized camera keeps its size in 4:4:4
        self.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self.colour = dataclasses.replace(colour, range=MPEG_RANGE)
        self.time_base = time_base
        self.rate = rate
        self.width, self.height = width, height
        try:
            cc: Any = av.CodecContext.create("libx264", "w")
        except (av.error.FFmpegError, ValueError) as err:
            raise UsageError(f"live encoding needs libx264 in PyAV's FFmpeg: {err}") from None
        cc.width, cc.height = width, height
        cc.pix_fmt = self.pix_fmt
        cc.time_base = time_base
        cc.framerate = rate
        cc.gop_size = max(1, math.ceil(settings.gop_seconds * float(rate)))
        cc.max_b_frames = 0
        tag(cc, self.colour)
        cc.options = {"preset": settings.preset, "tune": "zerolatency", "crf": str(settings.crf), "forced-idr": "1"}
        try:
            cc.open()
        except (av.error.FFmpegError, ValueError) as err:
            raise UsageError(f"cannot set up the live encoder (preset {settings.preset!r}?): {err}") from None
        self._cc = cc
        self._reformatter = VideoReformatter()
        self.frames = 0

    def encode(self, image: Array | av.VideoFrame, pts: int, *, keyframe: bool = False) -> list[av.Packet[Any]]:
        """The packets of one frame (one, with zerolatency); ``keyframe`` forces an IDR."""
        if isinstance(image, np.ndarray):
            frame = from_rgb(
                av.VideoFrame.from_ndarray(image, format="rgb24"), self.pix_fmt, self.colour, self._reformatter
            )
        else:
            frame = image
            if frame.format.name != self.pix_fmt:
                frame = self._reformatter.reformat(
                    frame, format=self.pix_fmt, dst_colorspace=self.colour.space, dst_color_range=self.colour.range
                )
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            packets = list(self._cc.encode(frame))
        except av.error.FFmpegError as err:
            raise OutputError(f"live encoding failed at pts {pts}: {err}") from None
        self.frames += 1
        return packets

    def flush(self) -> list[av.Packet[Any]]:
        try:
            return list(self._cc.encode(None))
        except av.error.FFmpegError:
            return []
