"""Run the ``fuchun`` command line on a tiny random VGG (tests of signals and resume).

    python tests/cli/tiny_cli.py STEPS_FILE SECONDS_PER_STEP fuchun-args...

The pretrained network is replaced by a seeded 4-8-channel VGG16 whose forward pass also
sleeps SECONDS_PER_STEP, so that a signal reliably lands mid-run; every step's number is
appended to STEPS_FILE. Everything else is the real command line in a real process.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    steps_file, pause, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    import torch

    from fuchun.cli import main as cli_main
    from fuchun.net.features import VGGFeatures
    from fuchun.report.bar import BarReporter
    from fuchun.run import engine

    class Slow(VGGFeatures):
        def forward(self, image, layers):
            time.sleep(pause)
            return super().forward(image, layers)

    def tiny_network(cfg, machine, reporter):
        torch.manual_seed(0)
        return Slow("vgg16", widths=(4, 4, 8, 8, 8)).to(machine.device), "0" * 64

    step = BarReporter.step

    def record(self, progress):
        with open(steps_file, "a") as handle:
            handle.write(f"{progress.step} {progress.steps}\n")
        step(self, progress)

    engine.load_network = tiny_network
    BarReporter.step = record
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
