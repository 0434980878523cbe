"""Lineage: typed nodes and edges, graph queries that end on cycles, OpenLineage import and export."""
