"""Verify's flagged frames of an output, from its JSON report (``OUTPUT.verify.json``), as
markers for the timeline: a frame where a face was left visible, a face could still be
re-identified, or the frame failed closed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _entry(report: dict[str, Any], video: Path) -> dict[str, Any] | None:
    files = report.get("files")
    if not isinstance(files, list):
        return None
    for f in files:
        if isinstance(f, dict) and Path(str(f.get("anonymized"))).name == video.name:
            return f
    return files[0] if len(files) == 1 and isinstance(files[0], dict) else None


def verify_flags(report_path: Path, video: Path) -> dict[str, Any]:
    """``{"report": when it ran or None, "frames": [{frame, leaks, reidentifiable, fail_closed,
    boxes, tracks}]}``; a missing or unreadable report gives no flags (and says so)."""
    empty: dict[str, Any] = {"report": None, "frames": []}
    if not report_path.is_file():
        return empty
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        log.warning("review: cannot read %s (%s); no verify flags shown", report_path, err)
        return empty
    entry = _entry(report, video) if isinstance(report, dict) else None
    if entry is None:
        return empty
    flagged = []
    for frame in entry.get("frames") or []:
        if not isinstance(frame, dict) or not isinstance(frame.get("frame"), int):
            continue
        leaks, matches = int(frame.get("leaks") or 0), int(frame.get("reidentifiable") or 0)
        if not (leaks or matches or frame.get("fail_closed")):
            continue
        checks = [
            c for c in frame.get("checks") or [] if isinstance(c, dict) and (c.get("leak") or c.get("reidentifiable"))
        ]
        flagged.append(
            {
                "frame": frame["frame"],
                "leaks": leaks,
                "reidentifiable": matches,
                "fail_closed": bool(frame.get("fail_closed")),
                "boxes": [c["box"] for c in checks if isinstance(c.get("box"), list)],
                "tracks": sorted({str(c["track"]) for c in checks if c.get("track")}),
            }
        )
    return {"report": str(report.get("created") or report_path.name), "frames": flagged}
