"""ModelGov core: every action and rule, usable without Streamlit."""

__version__ = "0.1.0"
