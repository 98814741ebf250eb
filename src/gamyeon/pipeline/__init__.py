"""The stages composed, per file: ``models`` (what a run loads) -> ``frame`` (detect -> track ->
estimate one frame's regions) -> ``video`` / ``image`` (decode -> frames -> seal -> mask ->
encode, with ``inputs.FilePass`` as their one input) -> ``job`` (one file start to finish: keyed
masks, pseudonyms, atomic outputs, vault, exports, the processing record)."""
