"""Shared setup: the conformance configuration reads its JWT HMAC key from
CONFORMANCE_JWT_SECRET, as under ci/serve."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

os.environ.setdefault("CONFORMANCE_JWT_SECRET", (ROOT / "conformance" / "credentials" / "hs.secret").read_text().strip())
