"""``python -m spherecode``: the same as the ``spherecode`` command."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
