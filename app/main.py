"""ModelGov dashboard: one entry script; sign-in, then navigation follows the person's roles."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import navigation, session  # noqa: E402

session.configure_page()
me = session.sidebar_identity()
gate = session.gate()
if gate is not None:
    # Signed out, refused, or no role: this page and nothing else, whatever the URL.
    st.navigation(navigation.gate_pages(gate), position="hidden")
    gate()
else:
    page = st.navigation(navigation.pages_for(me))
    navigation.run_page(me, page)
