"""What the stages run on, not a stage: a worker thread behind a bounded queue (``worker``),
per-process thread limits (``threads``), the progress display (``progress``), and input discovery
with atomic outputs (``files``)."""
