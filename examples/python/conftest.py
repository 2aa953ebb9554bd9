"""Lets the tests import hello.py from this folder (pytest rootdir-relative imports)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
