"""The SIP edge's Python side: configuration, account directory, policy, events, registry (no Kamailio imports).

`routing.py` (the KEMI script Kamailio loads) is the only module that talks to `KSR`; everything here is plain
Python that the unit tests exercise directly.
"""
