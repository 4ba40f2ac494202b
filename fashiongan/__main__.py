"""`python -m fashiongan`: the same as the `fashiongan` command."""

import sys

from fashiongan.cli import main

sys.exit(main())
