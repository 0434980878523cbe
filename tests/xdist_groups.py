"""`--dist loadgroup` with pytest 9: each test marked `xdist_group` gets its "@group" node-id suffix.

pytest-xdist 3.8 writes the suffix to `item._nodeid`, which pytest 9 no longer reads (the id lives in
`item._id`): every group was split across the workers, and the Spark tests started a JVM on each.
tests/conftest.py loads this plugin (`pytest_plugins`); tests/test_xdist_groups.py loads it (`-p tests.xdist_groups`)
in a pytest of its own to check that a group stays on one worker.
"""

from __future__ import annotations


def name_groups(config, items) -> None:
    """Suffix the node ids where pytest 9 reads them; an id that already carries a suffix (an xdist that does it
    itself) is left alone. Only on a worker of a `--dist loadgroup` run, as xdist does."""
    if not (hasattr(config, "workerinput") and config.getvalue("loadgroup")):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid.rsplit("]", 1)[-1]:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")


def pytest_collection_modifyitems(config, items):
    name_groups(config, items)
