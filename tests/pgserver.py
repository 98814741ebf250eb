"""A real, throwaway PostgreSQL server for the ledger tests.

Uses the machine's ``initdb``/``pg_ctl`` (PostgreSQL 15 on this image; Debian's ``postgresql``
package elsewhere) on a temporary data folder and a free port. PostgreSQL refuses to run as root,
so as root the server runs as the ``postgres`` user through ``runuser``. Returns None (the tests
then skip) only when no server can be started here.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def _binaries() -> tuple[str, str] | None:
    for folder in [None, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        initdb = shutil.which("initdb", path=folder)
        pg_ctl = shutil.which("pg_ctl", path=folder)
        if initdb and pg_ctl:
            return initdb, pg_ctl
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yields a ``postgresql://`` URL of a running server, or None with the reason logged."""
    found = _binaries()
    if found is None:
        log.warning("no initdb/pg_ctl found")
        yield None
        return
    initdb, pg_ctl = found
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="gamyeon-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            yield None
            return
        prefix = ["runuser", "-u", "postgres", "--"]
        try:
            shutil.chown(base, "postgres", "postgres")
        except (LookupError, OSError):
            log.warning("running as root and there is no 'postgres' user")
            shutil.rmtree(base, ignore_errors=True)
            yield None
            return
    data, port = base / "data", _free_port()
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        log.warning("cannot start PostgreSQL: %s %s", err, detail.decode(errors="replace")[-500:])
        shutil.rmtree(base, ignore_errors=True)
        yield None
        return
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
