"""``python -m kamabm ...``: the ``kamabm`` command (:func:`kamabm.cli.main`)."""

import sys

from kamabm.cli import main

sys.exit(main())
