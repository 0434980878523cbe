"""ModelGov dashboard: one entry script; sign-in, then navigation follows the person's roles."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import session  # noqa: E402

with session.held_store():
    page = session.shell()
    if page is not None:
        session.run_page(page)
