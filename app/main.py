"""ModelGov dashboard: one entry script; navigation follows the signed-in role."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import navigation, session  # noqa: E402

st.set_page_config(page_title="ModelGov", page_icon=":material/verified_user:", layout="wide")
me = session.sidebar_identity()
page = st.navigation(navigation.pages_for(me))
page.run()
