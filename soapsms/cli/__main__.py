"""`python -m soapsms.cli`, as `soapsms serve` starts its companions."""

import sys

from soapsms.cli import main

sys.exit(main())
