"""Input discovery and atomic outputs.

Outputs are written under a hidden temporary name in the destination folder and renamed into
place only when complete, so an interrupted or failed run never leaves a partial file under the
final name (rename within one folder is atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gamyeon.errors import GamyeonError, InputNotFoundError, OutputError, UnsupportedInputError, UsageError
from gamyeon.media.encode import VIDEO_SUFFIXES
from gamyeon.media.images import IMAGE_SUFFIXES

MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES | {".mpg", ".mpeg", ".ts", ".m2ts", ".wmv", ".flv", ".3gp"}


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True, slots=True)
class Job:
    """One input file and where its output goes."""

    source: Path
    output: Path
    relative: str  # the source's name relative to its input root; also its pseudonym domain


def output_suffix(source: Path) -> str:
    """The output extension for ``source`` when the user gave a folder: same container, except
    containers gamyeon cannot write, which become .mp4."""
    suffix = source.suffix.lower()
    return suffix if suffix in VIDEO_SUFFIXES or suffix in IMAGE_SUFFIXES else ".mp4"


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and path.suffix.lower() in MEDIA_SUFFIXES:
                yield path


def plan_jobs(inputs: list[Path], output: Path) -> list[Job]:
    """Map inputs to outputs. One file -> ``output`` is the file (or a folder to put it in);
    several files or a folder -> ``output`` is a folder mirroring the input tree."""
    if not inputs:
        raise UsageError("no input given")
    for path in inputs:
        if not path.exists():
            raise InputNotFoundError(f"input not found: {path}")
    single = len(inputs) == 1 and inputs[0].is_file()
    if single and not output.is_dir():
        src = inputs[0]
        if not output.parent.is_dir():
            raise OutputError(f"output folder does not exist: {output.parent}")
        if not output.suffix:
            raise UsageError(
                f"output {output} has no extension; give a file name like out{output_suffix(src)} or an existing folder"
            )
        _refuse_same(src, output)
        return [Job(src, output, src.name)]
    if output.exists() and not output.is_dir():
        raise OutputError(f"several inputs need an output folder, but {output} is a file")
    if not output.exists() and output.suffix.lower() in MEDIA_SUFFIXES:
        # Almost surely a mistake (a folder given where a file was meant): refuse rather than
        # create a folder called e.g. out.mp4. An existing folder of that name is used as is.
        raise UsageError(f"a folder or several inputs need an output folder, but {output} is named like a file")
    if not output.exists() and not output.parent.is_dir():
        raise OutputError(f"output folder's parent does not exist: {output.parent}")
    jobs: list[Job] = []
    for path in inputs:
        if path.is_dir():
            found = list(_walk(path))
            if not found:
                raise UnsupportedInputError(f"no video or image files found in {path}")
            for src in found:
                rel = src.relative_to(path)
                prefix = Path(path.name) if len(inputs) > 1 else Path()
                dest = (output / prefix / rel).with_suffix(output_suffix(src))
                jobs.append(Job(src, dest, str(prefix / rel)))
        else:
            jobs.append(Job(path, (output / path.name).with_suffix(output_suffix(path)), path.name))
    seen: set[Path] = set()
    for job in jobs:
        _refuse_same(job.source, job.output)
        if job.output in seen:
            raise UsageError(f"two inputs would write the same output {job.output}")
        seen.add(job.output)
    return jobs


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed (outputs and vaults are bound and recorded by it)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shred(path: Path) -> None:
    """Overwrite a file with random bytes, flush it to the disk, then delete it.

    Best effort: copy-on-write or journaling file systems and SSDs may keep old blocks, which is
    why vault keys are per dataset and destroying the key file is offered as well.
    """
    size = path.stat().st_size
    with path.open("r+b") as fh:
        remaining = size
        while remaining:
            n = min(remaining, 1 << 20)
            fh.write(secrets.token_bytes(n))
            remaining -= n
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


def _refuse_same(src: Path, dest: Path) -> None:
    if dest.exists() and dest.resolve() == src.resolve():
        raise UsageError(f"output would overwrite the input {src}")


#: longest file name (bytes) common file systems allow
NAME_MAX = 255


def temp_path(final: Path) -> Path:
    """A hidden sibling of ``final`` with the same extension (muxers choose by extension).

    The stem is shortened when needed: the temporary name must not be longer than a file name may
    be, or a final name close to the limit would fail only because of its temporary name.
    """
    tag = f".gamyeon-{secrets.token_hex(4)}.part{final.suffix}"
    stem = final.stem
    while stem and len(os.fsencode(f".{stem}{tag}")) > NAME_MAX:
        stem = stem[:-1]
    return final.with_name(f".{stem}{tag}")


def _discard(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):  # never mask the error that made us clean up
            path.unlink()


@contextlib.contextmanager
def atomic_outputs(*finals: Path) -> Iterator[list[Path]]:
    """Yields temporary paths; on success renames them onto ``finals``, on any error removes them.

    An ``OSError`` about one of these paths (e.g. the folder is read-only or full) is the user's
    output problem, so it becomes an ``OutputError`` with one clear line instead of a traceback.
    """
    temps = [temp_path(f) for f in finals]
    for final in finals:  # found now, not after the work, when some outputs would be in place
        if len(os.fsencode(final.name)) > NAME_MAX:
            raise OutputError(f"cannot write {final}: the file name is longer than {NAME_MAX} bytes")
        if final.is_dir():
            raise OutputError(f"cannot write {final}: a folder has that name")
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder: {err}") from None
    try:
        yield temps
    except BaseException as err:
        _discard(temps)
        if isinstance(err, OSError) and not isinstance(err, GamyeonError):
            concerned = _concerned(err, temps, finals)
            if concerned is not None:
                raise OutputError(f"cannot write output {concerned}: {err.strerror or err}") from None
        raise
    try:
        for tmp, final in zip(temps, finals, strict=True):
            if tmp.exists():
                os.replace(tmp, final)
    except OSError as err:
        _discard(temps)
        raise OutputError(f"cannot move output into place: {err}") from None


def _concerned(err: OSError, temps: list[Path], finals: tuple[Path, ...]) -> Path | None:
    """The output that ``err`` is about, if it is about writing the outputs (and not, say, a bug)."""
    for tmp, final in zip(temps, finals, strict=True):
        if str(err.filename) in {str(tmp), str(final)}:
            return final
    return finals[0] if err.errno in {errno.ENOSPC, errno.EDQUOT, errno.EROFS} else None
