"""The verification report: one self-contained HTML file and the same figures as JSON.

The HTML embeds every picture as a base64 PNG (plots drawn with matplotlib's Agg renderer, no
display or pyplot state needed; thumbnails from ``Evidence``, which holds only output pixels),
so it can be archived or mailed as one file as the controller's evidence that the method was
inspected (PIPC pseudonymization guidelines, 2024).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from matplotlib.figure import Figure

from gamyeon.infra.files import atomic_outputs
from gamyeon.verify.attack import IdentityAttack
from gamyeon.verify.result import FileResult, VerifyResult
from gamyeon.verify.stats import RANKS

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;line-height:1.4}
h1{margin-bottom:.2em} .pass{color:#176b2c} .fail{color:#b3261e}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3} .num{text-align:right} .ev{display:inline-block;margin:.4em;vertical-align:top}
.ev img{border:1px solid #999;image-rendering:pixelated} .note{color:#555;font-size:.92em}
"""


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _img(data: bytes, alt: str, **attrs: str) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{html.escape(v)}"' for k, v in attrs.items())
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}"{extra}>'


def timeline_plot(file: FileResult) -> bytes:
    """Faces found and leaks per examined frame over the video's time."""
    fig = Figure(figsize=(9, 2.6))
    ax = fig.add_subplot()
    xs = [fr.time if fr.time is not None else float(fr.index) for fr in file.frames]
    ax.plot(xs, [len(fr.faces) for fr in file.frames], "o-", color="#888", ms=3, lw=1, label="face instances")
    ax.bar(xs, [fr.leaks for fr in file.frames], width=_bar_width(xs), color="#b3261e", label="leaks")
    matched = [(x, fr.matches) for x, fr in zip(xs, file.frames, strict=True) if fr.matches]
    if matched:
        ax.plot([m[0] for m in matched], [m[1] for m in matched], "D", color="#ff9f00", label="re-identifiable")
    ax.set_xlabel("time (s)" if file.frames and file.frames[0].time is not None else "frame")
    ax.set_ylabel("per examined frame")
    ax.set_title(Path(file.anonymized).name, fontsize=10)
    ax.set_ylim(0, max([len(fr.faces) for fr in file.frames] + [1]) * 1.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, fontsize=8, frameon=False)
    return _png(fig)


def _bar_width(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.5
    return max((xs[-1] - xs[0]) / len(xs) * 0.6, 1e-3)


def distance_plot(result: VerifyResult) -> bytes:
    """Histogram of identity distances with the match threshold."""
    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot()
    distances = result.distances
    if distances:
        ax.hist(distances, bins=24, range=(0.0, 1.2), color="#4a6fa5")
    threshold = result.options.match_threshold
    ax.axvline(threshold, color="#b3261e", ls="--", label=f"match threshold {threshold:g}")
    ax.set_xlabel("dlib ResNet distance, original face vs. output at the same place (information, not the gate)")
    ax.set_ylabel("faces")
    ax.set_xlim(0.0, 1.2)
    ax.legend(fontsize=8)
    return _png(fig)


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if c is None else str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _originals(result: VerifyResult) -> str:
    names = sorted({f.original for f in result.files})
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} original files (see Files)"


def _gallery_rows(result: VerifyResult) -> list[list[object]]:
    g = result.gallery
    if g is None:
        return []
    gate = f"p ≥ {g.gate_alpha:.3g} or cannot measure"
    return [["identity attack on the --gallery photos", g.summary(), gate, "NO" if g.leak else "yes"]]


def render_html(result: VerifyResult) -> str:
    o = result.options
    ok = result.passed
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>gamyeon verify report</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>gamyeon verify: <span class='{'pass' if ok else 'fail'}'>{'PASS' if ok else 'FAIL'}</span></h1>",
        f"<p>{html.escape(result.verdict())}</p>",
        f"<p class='note'>Checked {html.escape(result.created)} by gamyeon "
        f"{html.escape(result.models.get('gamyeon', ''))} against {html.escape(_originals(result))}.</p>",
        "<h2>Summary</h2>",
        _table(
            ["measure", "value", "gate", "within gate"],
            [
                ["face instances examined", result.faces, None, None],
                ["leaks (uncovered or still detectable)", result.leaks, None, None],
                ["leak rate", f"{result.leak_rate:.4f}", f"≤ {o.max_leak_rate:g}", "yes" if result.leak_ok else "NO"],
                ["leaky frames / examined frames", f"{result.leaky_frames} / {result.frames_scanned}", None, None],
                [
                    "identity attack on the footage",
                    result.identity.summary(),
                    f"p ≥ {result.identity.gate_alpha:.3g} or cannot measure",
                    "NO" if result.identity.leak else "yes",
                ],
                *_gallery_rows(result),
                ["faces tested by the recognizer", result.identity_tested, None, None],
                [
                    f"distance to own original < {o.match_threshold:g} (information)",
                    f"{result.matches} ({result.match_rate:.4f})",
                    None if o.max_match_rate is None else f"≤ {o.max_match_rate:g}",
                    None if o.max_match_rate is None else ("yes" if result.match_ok else "NO"),
                ],
                ["seconds", f"{result.seconds:.1f}", None, None],
            ],
        ),
    ]
    if result.faces == 0:
        parts.append(
            "<p class='note'><b>No face was found in the examined frames of the original.</b> The gate passes, "
            "but nothing was measured: the faces may be smaller than the scan sees (see Method).</p>"
        )
    parts.append("<h2>Files</h2>")
    rows: list[list[object]] = []
    for f in result.files:
        d = f.as_dict()
        rows.append(
            [
                f.anonymized,
                f.media,
                f"{f.width}x{f.height}",
                f"{d['frames_scanned']} / {f.frames_total}",
                d["faces"],
                d["leaks"],
                d["leaky_frames"],
                "-" if f.identity is None else f"{f.identity.status} ({f.identity.identities} tracks)",
                f.coverage_method,
            ]
        )
    parts.append(
        _table(
            [
                "anonymized",
                "media",
                "size",
                "frames examined / total",
                "faces",
                "leaks",
                "leaky frames",
                "identity attack",
                "coverage from",
            ],
            rows,
        )
    )
    parts.append("<h2>Leaks over time</h2>")
    for f in result.files:
        if f.media == "video" and f.frames:
            parts.append(f"<div>{_img(timeline_plot(f), 'leaks over time of ' + f.anonymized)}</div>")
    if not any(f.media == "video" for f in result.files):
        parts.append("<p class='note'>Images only: see the Files table.</p>")
    parts.append(_identity(result))
    parts.append("<h2>Distance of each masked face to its own original (information)</h2>")
    parts.append(_img(distance_plot(result), "distance histogram"))
    parts.append(_method(result))
    parts.append(_evidence(result))
    parts.append("</body></html>")
    return "\n".join(parts)


def _method(result: VerifyResult) -> str:
    o = result.options
    sampling = "".join(
        f"<li>{html.escape(f.anonymized)}: {html.escape(f.sampling)}; coverage from {html.escape(f.coverage_method)}"
        + (f" ({html.escape(f.annotations)})" if f.annotations else "")
        + "</li>"
        for f in result.files
    )
    models = _table(["component", "version / sha256"], [[k, v] for k, v in sorted(result.models.items())])
    return (
        "<h2>Method and policy</h2><ul>"
        f"<li>Residual scan: {html.escape(result.models.get('detectors', ''))}. Each detector is independent "
        "of the one that masked the faces (CenterFace). A face found in the original is a leak when less than "
        f"{o.min_coverage:.0%} of its box is masked, or when a detector still finds a face there in the output; "
        "a face found only in the output is a leak too.</li>"
        f"<li>Identity attack: dlib ResNet 128-d descriptors (5-point alignment) of each original face of at least "
        f"{o.min_identity_face} px and of the output at the same place, filed by track (the annotations' tracks, "
        "else faces linked across examined frames). Each track's frames are split into halves; each half is a "
        "probe against the other half of every track (closed-set identification, rank 1 and 5), combining a "
        "half's frames by mean descriptor or best-of-k minimum distance. Attacks: <i>originals</i> (original vs "
        "original: can the recognizer tell these people apart at all? if not, the footage 'cannot be measured'), "
        "<i>plain</i> (masked vs originals) and <i>parrot</i> (masked vs masked: an attacker who anonymized his "
        "gallery with the same policy). Chance is the mean share of the probe's identity in the gallery; the "
        "p-value is a permutation test: the share of shuffles of each file's identities that name at least as "
        "many probes (a track keeps one mask, so its probes are not independent); on labelled photos "
        "(--gallery), the exact Poisson-binomial tail. Intervals are Wilson 95 %.</li>"
        f"<li>Gate: leak rate ≤ {o.max_leak_rate:g}, and no calibrated plain or parrot attack above chance at "
        f"p &lt; {o.alpha:g} (divided among the attack variants, Bonferroni)"
        + ("" if o.max_match_rate is None else f", and distance &lt; {o.match_threshold:g} rate ≤ {o.max_match_rate:g}")
        + " (exit code 0 pass, 1 fail).</li>"
        f"<li>Frames examined:<ul>{sampling}</ul></li>"
        "</ul><p class='note'>No detector finds every face: this report is evidence of inspection on the examined "
        "frames, not proof that no face leaks elsewhere. Faces smaller than the detectors see are not examined.</p>"
        f"<h3>Models and versions</h3>{models}"
    )


def _attack_table(attack: IdentityAttack) -> str:
    rows: list[list[object]] = []
    for name, by_variant in attack.outcomes.items():
        for variant in by_variant:
            row: list[object] = [name, variant]
            for rank in RANKS:
                fig = attack.figure(name, variant, rank)
                if fig is None or not fig.probes:
                    row += [None, None, None, None]
                    continue
                row += [
                    f"{fig.hits}/{fig.probes} ({fig.rate:.3f})",
                    f"{fig.chance:.3f}",
                    f"{fig.ci[0]:.2f}-{fig.ci[1]:.2f}",
                    f"{fig.p_value:.3g}",
                ]
            gate = (name, variant) in attack.gate
            row.append("gate" if gate else "calibration" if (name, variant) in attack.calibration else "information")
            rows.append(row)
    headers = ["attack", "combined by"]
    for rank in RANKS:
        headers += [f"rank-{rank}", "chance", "95 % CI", "p"]
    return _table([*headers, "role"], rows)


def _distances(attack: IdentityAttack) -> str:
    if attack.distances is None:
        return ""
    rows = [
        [name.replace("_", " "), v["count"], v["min"], v["median"], v["max"]]
        for name, v in attack.distances.as_dict().items()
        if isinstance(v, dict)
    ]
    return "<p>Genuine vs impostor distances (dlib ResNet):</p>" + _table(
        ["distances", "pairs", "min", "median", "max"], rows
    )


def _attack_block(title: str, attack: IdentityAttack, figures: bool = True) -> str:
    status = "fail" if attack.leak else "pass"
    parts = [
        f"<h3>{html.escape(title)}</h3>",
        f"<p class='{status}'>{html.escape(attack.summary())}</p>",
        f"<p class='note'>Calibration: {html.escape(attack.status)} — {html.escape(attack.reason)}</p>",
    ]
    if attack.outcomes and figures:
        parts.append(_attack_table(attack))
    parts.append(_distances(attack))
    if attack.tracks:
        parts.append(
            _table(
                [
                    "track",
                    "frames",
                    "median masked-vs-own distance",
                    "plain rank-1 hits",
                    "parrot rank-1 hits",
                    "probes",
                ],
                [
                    [t.track, t.frames, f"{t.masked_genuine_median:.3f}", t.plain_hits, t.parrot_hits, t.probes]
                    for t in attack.tracks
                ],
            )
        )
    return "\n".join(parts)


def _identity(result: VerifyResult) -> str:
    parts = [
        "<h2>Identity attack: identification against chance</h2>",
        _attack_block("All files (calibrated files pooled)", result.identity),
    ]
    for f in result.files:
        if f.identity is None:
            continue
        if len(result.files) > 1:
            parts.append(_attack_block(f"File {f.anonymized}", f.identity))
        else:  # the pooled block above holds its figures; here its calibration, distances and tracks
            parts.append(_attack_block(f"Tracks of {f.anonymized}", f.identity, figures=False))
    if result.gallery is not None:
        parts.append(
            _attack_block(f"--gallery {result.options.gallery} (the policy on labelled photos)", result.gallery)
        )
    elif not result.identity.measured:
        parts.append(
            "<p class='note'>The footage cannot show whether the masks hide identity: test the policy on "
            "identity-labelled photos with <code>--gallery DIR</code>.</p>"
        )
    return "\n".join(parts)


def _evidence(result: VerifyResult) -> str:
    parts = [
        "<h2>Flagged frames (from the anonymized output only)</h2>",
        "<p class='note'>Red: leak (uncovered or still detectable); orange: covered, but within the match "
        "threshold of its own original (information, not the gate). "
        "Pictures are cut from the anonymized output, never from the original; where the output leaks, "
        "they show that leak.</p>",
    ]
    shown = 0
    for f in result.files:
        flagged = sum(fr.flagged for fr in f.frames)
        if not flagged:
            continue
        parts.append(f"<h3>{html.escape(f.anonymized)}: {flagged} flagged frame(s), {len(f.evidence)} shown</h3>")
        for ev in f.evidence:
            when = f"frame {ev.frame}" + ("" if ev.time is None else f", {ev.time:.2f} s")
            crops = "".join(
                _img(
                    png,
                    f"flagged region {box.as_list()}",
                    data_frame=str(ev.frame),
                    data_box=",".join(str(v) for v in box.pixel_bounds(f.width, f.height)),
                    class_="crop",
                )
                for box, png in ev.crops
            )
            overview = _img(ev.overview_png, when, data_frame=str(ev.frame), class_="overview")
            parts.append(f"<div class='ev'><div>{html.escape(when)}</div>{overview}<div>{crops}</div></div>")
            shown += 1
    if not shown:
        parts.append("<p>None.</p>")
    return "\n".join(parts)


def write_reports(result: VerifyResult, html_path: Path | None, json_path: Path | None) -> None:
    """Write the HTML and/or JSON report atomically (complete files or none)."""
    finals = [p for p in (html_path, json_path) if p is not None]
    if not finals:
        return
    with atomic_outputs(*finals) as temps:
        for final, tmp in zip(finals, temps, strict=True):
            if final == html_path:
                tmp.write_text(render_html(result), encoding="utf-8")
            else:
                tmp.write_text(json.dumps(result.as_dict(), indent=1), encoding="utf-8")
