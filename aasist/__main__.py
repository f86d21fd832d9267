"""`python -m aasist`: see aasist/cli.py."""
import sys

from .cli import main

sys.exit(main())
