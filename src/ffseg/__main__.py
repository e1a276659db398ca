"""``python -m ffseg`` is the ``ffseg`` command."""

import sys

from ffseg.cli import main

sys.exit(main())
