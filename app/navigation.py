"""The pages, each with the permission it needs; st.navigation only gets the allowed ones."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.identity import Identity, allowed


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to app/
    title: str
    icon: str
    permission: str
    section: str = "Portfolio"
    default: bool = False

    @property
    def url_path(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".py")


# Add a page here (and its file under app/pages/); the order is the sidebar's.
PAGES: list[PageSpec] = [
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:", "view", default=True),
    PageSpec("pages/inventory.py", "Inventory", ":material/inventory_2:", "view"),
    PageSpec("pages/model.py", "Model", ":material/model_training:", "view"),
]


def specs_for(me: Identity | None) -> list[PageSpec]:
    return [p for p in PAGES if allowed(me, p.permission)]


def pages_for(me: Identity | None) -> dict[str, list[st.Page]] | list[st.Page]:
    """st.Page objects grouped by section, only those `me` may open."""
    from app import session

    specs = specs_for(me)
    if not specs:
        return [st.Page(session.no_role_page, title="No access", icon=":material/block:", default=True)]
    groups: dict[str, list[st.Page]] = {}
    for spec in specs:
        groups.setdefault(spec.section, []).append(
            st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.default))
    if not any(p.default for p in specs):
        first = next(iter(groups.values()))
        spec0 = specs[0]
        first[0] = st.Page(spec0.path, title=spec0.title, icon=spec0.icon, url_path=spec0.url_path, default=True)
    return groups
