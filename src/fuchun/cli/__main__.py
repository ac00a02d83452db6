"""``python -m fuchun.cli``: the same as the ``fuchun`` command."""

import sys

from fuchun.cli import main

sys.exit(main())
