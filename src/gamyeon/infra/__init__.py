"""What the stages run on, not a stage: a worker thread behind a bounded queue (``worker``),
per-process thread limits (``threads``), the set-up of a worker process (``process``), the
progress display (``progress``), input discovery with atomic outputs (``files``), and lazy public
names for package ``__init__``s (``lazy``)."""
