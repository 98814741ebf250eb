"""Webhook: one HTTP POST of JSON per event, with the standard library.

An alert that cannot be delivered is logged and counted, and the analysis goes on: the events are
also in the events file, and stopping the analysis would lose the alerts after it too. Only
``http`` and ``https`` URLs are accepted (urllib would otherwise also open ``file:`` URLs).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from gamyeon.about import __version__
from gamyeon.errors import UsageError

log = logging.getLogger(__name__)

#: seconds to wait for the receiver; an alerting endpoint that takes longer is down
TIMEOUT_S = 5.0


class Webhook:
    """POSTs each event as JSON to ``url``; ``sent`` and ``failed`` count the outcomes."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise UsageError(f"--webhook: expected an http:// or https:// URL, got {url!r}")
        self.url = url
        self.timeout = timeout
        self.sent = 0
        self.failed = 0

    def post(self, payload: dict[str, Any]) -> bool:
        """Deliver one event; False (and a warning) when the receiver did not take it."""
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": f"gamyeon/{__version__}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # the scheme was checked
                ok = 200 <= int(response.status) < 300
        except urllib.error.HTTPError as err:
            log.warning("webhook %s refused an event: HTTP %d", self.url, err.code)
            ok = False
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            log.warning("webhook %s unreachable: %s", self.url, reason)
            ok = False
        if ok:
            self.sent += 1
        else:
            self.failed += 1
        return ok
