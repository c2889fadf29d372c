"""``python -m bayeshier.cli``: the ``bayeshier`` command line."""

import sys

from bayeshier.cli.main import main

sys.exit(main())
