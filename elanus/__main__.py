"""`python -m elanus` is the `elanus` command."""

import sys

from elanus.cli.main import main

sys.exit(main())
