"""The pages, each with the permission it needs; st.navigation only gets the allowed ones.

A leaf of `app/`: it imports nothing else from `app/`. `session.py` builds each
run's menu from it and supplies the pages shown when nobody may open any page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
    PageSpec("pages/monitoring.py", "Monitoring", ":material/monitor_heart:", "view", section="Insight"),
    PageSpec("pages/explanations.py", "Explanations", ":material/insights:", "view", section="Insight"),
    PageSpec("pages/lineage.py", "Lineage", ":material/account_tree:", "view", section="Insight"),
    PageSpec("pages/compare.py", "Champion vs challenger", ":material/compare_arrows:", "view", section="Insight"),
    PageSpec("pages/fairness.py", "Fairness", ":material/balance:", "view", section="Insight"),
    PageSpec("pages/approvals.py", "Approvals", ":material/approval:", "view-approvals", "Governance"),
    PageSpec("pages/audit.py", "Audit trail", ":material/policy:", "read-audit", "Governance"),
    PageSpec("pages/admin.py", "Admin", ":material/admin_panel_settings:", "manage-users", "Administration"),
    PageSpec("pages/tokens.py", "Access tokens", ":material/key:", "view", "Account"),
    PageSpec("pages/notifications.py", "Notifications", ":material/notifications:", "subscribe-notifications",
             "Account"),
]


def specs_for(me: Identity | None) -> list[PageSpec]:
    return [p for p in PAGES if allowed(me, p.permission)]


def _page(spec: PageSpec, *, default: bool = False, hidden: bool = False) -> st.Page:
    page = st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=default,
                   visibility="hidden" if hidden else "visible")
    page.modelgov_spec = spec  # st.navigation returns this very object; spec_of reads the spec back
    return page


def spec_of(page: st.Page) -> PageSpec | None:
    """The spec of a page `pages_for` made (None for a gate or no-access page)."""
    return getattr(page, "modelgov_spec", None)


def pages_for(me: Identity | None, no_access: Callable[[], None]) -> dict[str, list[st.Page]] | list[st.Page]:
    """st.Page objects grouped by section: the pages `me` may open, then the others hidden.

    The hidden ones keep their URL, so opening one by link resolves to it and
    the caller shows a refusal instead of running it. `no_access` is the page
    shown when `me` may open none.
    """
    specs = specs_for(me)
    forbidden = [p for p in PAGES if p not in specs]
    if not specs:
        return [st.Page(no_access, title="No access", icon=":material/block:", default=True)] + [
            _page(p, hidden=True) for p in forbidden]
    default = next((p for p in specs if p.default), specs[0])
    groups: dict[str, list[st.Page]] = {}
    for spec in specs:
        groups.setdefault(spec.section, []).append(_page(spec, default=spec is default))
    # A section holding only hidden pages could still show its header, so they join the first one.
    first = next(iter(groups))
    groups[first] += [_page(p, hidden=True) for p in forbidden]
    return groups


def gate_pages(gate: Callable[[], None]) -> list[st.Page]:
    """When no page may run (signed out, refused, no role): the gate page, and every page's URL hidden."""
    return [st.Page(gate, title="ModelGov", icon=":material/verified_user:", url_path="welcome", default=True)] + [
        _page(p, hidden=True) for p in PAGES]
