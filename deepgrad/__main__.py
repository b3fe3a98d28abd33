"""``python -m deepgrad ...`` is the ``deepgrad`` command."""
import sys

from .cli import main

sys.exit(main())
