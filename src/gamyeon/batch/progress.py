"""One progress bar for a whole batch: files done, frames, fps and ETA (rich, on stderr).

The frame total grows while files are opened (a worker reports each file's frame count when it
starts it); until every file has been seen, the total is extrapolated from the average of those
seen, so the ETA is meaningful from the first minute of a long batch.
"""

from __future__ import annotations

from rich.progress import TaskID

from gamyeon.infra.progress import ProgressDisplay


class BatchBar(ProgressDisplay):
    def __init__(self, quiet: bool, files: int) -> None:
        super().__init__(quiet, unit="frames")
        self.files = files
        self.done = 0
        self.failed = 0
        self._totals: dict[str, int] = {}  # per file: frames, as announced or, once finished, as done
        self._advanced: dict[str, int] = {}
        self._task: TaskID = self._progress.add_task(self._describe(), total=None)

    def _describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"files {self.done + self.failed}/{self.files}{failed}"

    def _estimate(self) -> int | None:
        if not self._totals:
            return None
        known = sum(self._totals.values())
        average = known / len(self._totals)
        return round(known + average * max(0, self.files - len(self._totals)))

    def add_total(self, key: str, frames: int) -> None:
        """File ``key`` has ``frames`` frames (0: its container does not say)."""
        if frames > 0:
            self._totals[key] = frames
            self._progress.update(self._task, total=self._estimate())

    def advance(self, key: str, frames: int) -> None:
        self._advanced[key] = self._advanced.get(key, 0) + frames
        self._progress.advance(self._task, frames)

    def file_finished(self, key: str, frames: int | None) -> None:
        """``key`` is done with ``frames`` frames, or failed (None) after the frames it got through."""
        if frames is None:
            self.failed += 1
        else:
            self.done += 1
        self._totals[key] = self._advanced.get(key, 0) if frames is None else frames
        self._progress.update(self._task, description=self._describe(), total=self._estimate())
