"""Who holds a phone's connection, as the fleet shares it (docs/decisions.md 70).

Contacts are replicated to every task with Kamailio's `dmq_usrloc`. The task that saves a contact (the one the
phone is connected to) stores with it a Path (RFC 3327) naming its own internal socket, with the phone's address
as the path module's `received` parameter. Any other task's lookup then relays a call through the holder
(registrar: the first Path hop becomes the destination; the holder skips its own hop, `path_check_local`), and
the holder's path module sends it on to the phone's connection. These helpers build and read that Path.
"""

from __future__ import annotations

from urllib.parse import quote

from sipedge.sipmsg import host_port


def received_uri(source_ip: str, source_port: str, transport: str) -> str:
    """The phone's address as a SIP URI (the form nathelper stores as `received`)."""
    uri = f"sip:{host_port(source_ip, source_port)}"
    return uri if transport == "udp" else f"{uri};transport={transport}"


def path_header(internal_hop: str, source_ip: str, source_port: str, transport: str) -> str:
    """The Path a holder stores with its contact: its internal hop, loose-routing, and the phone's address."""
    received = quote(received_uri(source_ip, source_port, transport), safe="")
    return f"Path: <sip:{internal_hop};lr;received={received}>\r\n"


def holder_of(path: str) -> str:
    """host:port of the task a stored Path names (its first URI), or "" when there is none."""
    start = path.find("<sip:")
    if start < 0:
        return ""
    rest = path[start + len("<sip:") :]
    hop = rest.split(";", 1)[0].split(">", 1)[0]
    return hop.rsplit("@", 1)[-1]


def held_here(path: str, internal_hop: str) -> bool:
    """A contact this task holds: its Path names this task (a contact saved before Paths existed counts too)."""
    holder = holder_of(path)
    return holder in ("", internal_hop)
