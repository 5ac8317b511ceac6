"""Use cases: plain functions over the ports; no framework or AWS imports."""
