"""Pseudonymous track ids: HMAC-SHA256 over a per-dataset secret and the track.

The HMAC key is derived from the master key for one dataset, so the same person's track gets
unrelated ids in two datasets, and nobody without the key can link them (EDPB 01/2025: a keyed
function with enough entropy, one pseudonymisation domain per dataset).
"""

from __future__ import annotations

import hashlib
import hmac

from gamyeon.keys import MasterKey

ID_HEX_CHARS = 16  # 64 bits: collisions are negligible for any realistic number of tracks


class Pseudonymizer:
    def __init__(self, key: MasterKey, dataset_id: str) -> None:
        self._key = key.derive("pseudonym", dataset_id)
        self.dataset_id = dataset_id

    def __repr__(self) -> str:
        return f"Pseudonymizer(dataset_id={self.dataset_id!r})"

    def track_id(self, source: str, kind: str, track: int) -> str:
        """Stable id for local ``track`` of ``kind`` in input ``source`` within this dataset."""
        message = f"{source}\x00{kind}\x00{track}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:ID_HEX_CHARS]
