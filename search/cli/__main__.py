"""`python -m search.cli` runs the `nas-mnist` command line."""

import sys

from search.cli import main

sys.exit(main())
