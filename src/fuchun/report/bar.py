"""The command line's reporter: a start line and a tqdm bar with the losses on stderr."""

from __future__ import annotations

import sys

from tqdm import tqdm

from fuchun.report.base import Progress, Reporter, RunInfo


class BarReporter(Reporter):
    """A progress bar that is silent when stderr is not a terminal or with ``quiet``."""

    def __init__(self, *, quiet: bool = False, snapshot=None) -> None:
        self.quiet, self.snapshot = quiet, snapshot
        self.bar: tqdm | None = None
        self.elapsed = 0.0
        self.first = self.last = self.total = 0  # steps seen: a resumed run starts past 1

    def start(self, info: RunInfo) -> None:
        if not self.quiet:
            print(info.line(), file=sys.stderr)
        self.bar = tqdm(
            total=sum(info.steps),
            file=sys.stderr,
            unit="step",
            dynamic_ncols=True,
            disable=self.quiet or not sys.stderr.isatty(),
        )

    def step(self, progress: Progress) -> None:
        self.elapsed = progress.elapsed
        self.first, self.last, self.total = self.first or progress.step, progress.step, progress.steps
        if self.bar is not None:
            self.bar.update(progress.step - self.bar.n)  # a resumed run's bar starts where it stopped
            terms = " ".join(f"{k}={v:.3g}" for k, v in progress.terms.items())
            self.bar.set_description(
                f"scale {progress.scale}/{progress.n_scales} {progress.size[0]}x{progress.size[1]}", refresh=False
            )
            self.bar.set_postfix_str(f"loss={progress.loss:.4g} {terms}", refresh=False)
        if self.snapshot is not None:
            self.snapshot(progress)

    def warning(self, message: str) -> None:
        print(f"fuchun: warning: {message}", file=sys.stderr)

    def message(self, text: str) -> None:
        if not self.quiet:
            print(f"fuchun: {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def done(self, output) -> None:
        if not self.quiet:
            resumed = f" (steps {self.first}-{self.last} of {self.total}: resumed)" if self.first > 1 else ""
            print(f"fuchun: wrote {output} in {self.elapsed:.1f} s{resumed}", file=sys.stderr)
