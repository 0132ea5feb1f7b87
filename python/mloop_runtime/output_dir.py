"""All-or-nothing output: files are written to a hidden temp dir next to OUTDIR and the
dir is renamed into place only after everything succeeded, so the engine never sees a
half-written OUTDIR (rename within one filesystem is atomic)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from .errors import UsageError


def check_output_target(final: Path) -> None:
    """OUTDIR must not exist, or be an empty directory (rename replaces those)."""
    if final.is_dir():
        if any(final.iterdir()):
            raise UsageError(f"--out {final} already exists and is not empty")
    elif final.exists():
        raise UsageError(f"--out {final} exists and is not a directory")


class StagedOutputDir:
    def __init__(self, final: Path) -> None:
        self.final = final
        self.path: Path | None = None

    def __enter__(self) -> StagedOutputDir:
        check_output_target(self.final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.", suffix=".partial", dir=self.final.parent))
        os.chmod(self.path, 0o755)  # mkdtemp's 0700 would surprise whoever reads the artifact
        return self

    def commit(self) -> None:
        assert self.path is not None
        for item in self.path.iterdir():
            with open(item, "rb") as f:
                os.fsync(f.fileno())
        check_output_target(self.final)  # someone may have created it meanwhile
        os.replace(self.path, self.final)
        self.path = None
        dir_fd = os.open(self.final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.path is not None:  # not committed: leave nothing behind
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
