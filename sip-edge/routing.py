"""KEMI routing script of the SIP edge, loaded by Kamailio's app_python3 (kamailio.cfg names it).

A pipeline of small guards, one function per concern; each returns True to go on, False when it has answered
(or dropped) the request. Kamailio calls the methods of the `kamailio` object that `mod_init` returns; their
names are the `CALLBACKS` below, and a test checks that each name kamailio.cfg passes to Kamailio is one of them.

SIP workers never touch the network for events: they queue JSON on Kamailio's mqueues (`edge_events` for
SQS, `edge_facts` for the registry), and two rtimer processes drain them (`ksr_timer_events` sends batches to
SQS, `ksr_timer_registry` keeps the registry: keep-alive pings, expiry reports, the re-check of accounts).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import calling
import KSR  # type: ignore[import-not-found]  # provided by app_python3 inside Kamailio; a mock in the tests
from sipedge import config as edge_config
from sipedge import directory as edge_directory
from sipedge.client import SidecarQueue
from sipedge.directory import Account, Directory, DirectoryUnavailable
from sipedge.events import EventSender, encode, make_event
from sipedge.fleet import held_here, holder_of, path_header
from sipedge.limits import Limits
from sipedge.limits import Settings as LimitSettings
from sipedge.policy import Refusal, refusal_after_auth
from sipedge.registry import Registration, Registry
from sipedge.sipmsg import contact_uri, first_contact, host_port, register_expires

LOCATION = "location"
SAVE_SINGLE_CONTACT = 0x04  # registrar save(): one contact per AOR, a new one replaces the old (one phone)
AUTH_HA1 = 1  # pv_auth_check flags: the password argument is the HA1
# pv_auth_check checks: the digest user must be the To user of a REGISTER, the From user of any other request
AUTH_CHECK_ID = 1
QOP_AUTH = 1  # auth_challenge flags: offer qop=auth
AUTH_RECHALLENGE = (-4, -5, -6)  # nonce stale, no credentials, nonce reused: challenge again, no refusal
EVENTS_QUEUE = "edge_events"
FACTS_QUEUE = "edge_facts"
DRAIN_LIMIT = 2000
RETRY_AFTER_SECONDS = 5
HANDOVER_BATCH = 100
METRICS = "metrics"  # htable of counters (kamcmd htable.dump metrics)
CONNS, CONNSEEN = "conns", "connseen"  # htables: open connections per address; the address of each one counted
TCP_LIFETIME_MARGIN = 60  # a registered phone's connection outlives its longest registration by this
# the digest of an unknown or never-activated user is checked against this (never matches): the same code path,
# the same answers (a stale nonce is challenged again for everybody) as a known user with a wrong password
DECOY_HA1 = secrets.token_hex(16)

CALLBACKS = (
    "ksr_request_route",
    "ksr_reply_route",
    "ksr_timer_events",
    "ksr_timer_registry",
    "ksr_registrar_event",
    "ksr_uac_event",
    "ksr_tcpops_event",
    "ksr_onsend_route",
    *calling.CALLBACKS,
)


class _State:
    """Per-process objects, built on first use after Kamailio forked (no connections at import)."""

    def __init__(self) -> None:
        self._config: edge_config.EdgeConfig | None = None
        self._directory: Directory | None = None
        self._sender: EventSender | None = None
        self._registry: Registry | None = None
        self._limits: Limits | None = None

    def config(self) -> edge_config.EdgeConfig:
        if self._config is None:
            self._config = edge_config.from_env()
        return self._config

    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = edge_directory.build(self.config())
        return self._directory

    def sender(self) -> EventSender:
        if self._sender is None:
            config = self.config()
            # the sidecar sends to SQS (no AWS client in a Kamailio process: see sipedge/sidecar.py)
            client = SidecarQueue(config.sidecar_socket) if config.queue_url else None
            log = lambda text: KSR.warn(f"edge: {text}\n")  # noqa: E731
            # up to 100 events a datagram: a Unix datagram socket queues only ~10 datagrams (max_dgram_qlen)
            self._sender = EventSender(config.queue_url, client, log, batch=HANDOVER_BATCH)
        return self._sender

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.config(), self.directory(), KemiActions())
        return self._registry

    def limits(self) -> Limits:
        if self._limits is None:
            config = self.config()
            settings = LimitSettings(config.lockout_failures, config.flood_limit, config.flood_window_seconds)
            self._limits = Limits(HtableStore(), settings)
        return self._limits

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


state = _State()


def pv(name: str) -> str:
    value = KSR.pv.get(name)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Request:
    """What the guards read of the current REGISTER, gathered once. The digest guards (guard_credentials,
    guard_digest, failed_digest, lock_out, refuse) also authenticate a new call's INVITE with it: `Request.read(
    caller=True)` puts the INVITE's From user and domain, the identity it claims, where a REGISTER has its To's."""

    to_user: str
    to_domain: str
    source_ip: str
    source_port: str
    transport: str
    socket: str
    contact: str
    expires: str
    user_agent: str

    @property
    def source(self) -> str:
        return host_port(self.source_ip, self.source_port)

    @classmethod
    def read(cls, caller: bool = False) -> Request:
        transport = pv("$pr").lower()
        identity = "$f" if caller else "$t"
        return cls(
            to_user=pv(f"{identity}U"),
            to_domain=pv(f"{identity}d"),
            source_ip=pv("$si"),
            source_port=pv("$sp"),
            transport=transport,
            socket=f"{transport}:{host_port(pv('$Ri'), pv('$Rp'))}",
            contact=first_contact(pv("$hdr(Contact)")),
            expires=pv("$hdr(Expires)"),
            user_agent=pv("$ua"),
        )


class HtableStore:
    """sipedge.limits' counters in Kamailio's htables (shared memory of every SIP worker)."""

    def get(self, table: str, key: str) -> int:
        value = KSR.pv.get(f"$sht({table}=>{key})")
        return value if isinstance(value, int) else 0

    def add(self, table: str, key: str, amount: int) -> int:
        KSR.htable.sht_lock(table, key)  # the slot's lock: get and set as one step for every worker
        try:
            value = self.get(table, key) + amount
            KSR.htable.sht_seti(table, key, value)
        finally:
            KSR.htable.sht_unlock(table, key)
        return value

    def put(self, table: str, key: str, value: int) -> None:
        KSR.htable.sht_seti(table, key, value)

    def remove(self, table: str, key: str) -> None:
        KSR.htable.sht_rm(table, key)


def queue(name: str, key: str, payload: dict[str, Any]) -> None:
    if KSR.mqueue.mq_add(name, key, encode(payload)) < 0:
        KSR.warn(f"edge: queue {name} full, {key} dropped\n")


def emit(kind: str, request: Request, account: Account | None, **fields: Any) -> None:
    event = make_event(
        kind,
        edge=state.config().edge_id,
        username=request.to_user,
        account_id=account.id if account else "",
        source=request.source,
        transport=request.transport,
        user_agent=request.user_agent,
        **fields,
    )
    queue(EVENTS_QUEUE, kind, event)


# ----- the request pipeline ------------------------------------------------------------------------------------


def charge(challenge: bool = False) -> None:
    """A costly request from this source (sipedge/limits.py); past the limit the source is cut off."""
    ip = pv("$si")
    if state.limits().charge(ip, challenge):
        config = state.config()
        HtableStore().add(METRICS, "flood_cutoffs", 1)
        KSR.warn(f"edge: flood from {ip} cut off: more than {config.flood_limit} costly requests in "
                 f"{config.flood_window_seconds} s (challenges without a valid digest, failed digests, malformed "
                 "or refused requests)\n")  # fmt: skip


def guard_dmq() -> bool:
    """The fleet's own KDMQ requests (replicated lockouts) on the internal DMQ socket go to the dmq module; on
    any other socket (the public ones) a KDMQ is a cost and is dropped."""
    if pv("$rm") != "KDMQ":
        return True
    if pv("$Rp") == str(state.config().dmq_port):
        KSR.dmq.handle_message()
    else:
        charge()
    return False


def guard_fleet() -> bool:
    """A new call another task relays here because the callee's phone is connected to this task (sipedge/fleet.py):
    on the internal socket, from a node of the bus. Its Route is this task's Path hop, whose `received` (path
    module) is the phone's connection; the INVITE was authenticated and its media set up by the caller's task."""
    config = state.config()
    if host_port(pv("$Ri"), pv("$Rp")) != config.internal_hop or not KSR.is_INVITE() or KSR.siputils.has_totag() > 0:
        return True
    if KSR.dmq.is_from_node() < 0:
        charge()
        return False
    KSR.rr.loose_route()  # a pre-loaded Route of this task only: removed, its `received` is the destination
    if not pv("$du"):
        KSR.sl.sl_send_reply(480, "Temporarily Unavailable")
        return False
    KSR.rr.record_route()
    if KSR.tm.t_relay() < 0:
        KSR.sl.sl_reply_error()
    return False


def guard_connection() -> bool:
    """The per-source connection cap: a TCP or TLS connection is counted for its address at its first message
    (until then the idle and handshake limits bound it), and past SIP_MAX_CONNECTIONS_PER_SOURCE it is closed;
    the close event (ksr_tcpops_event) gives the unit back. A connection is known by its remote address and port
    (the close event has no connection id)."""
    if pv("$pr").lower() not in ("tcp", "tls"):
        return True
    ip = pv("$si")
    peer = host_port(ip, pv("$sp"))
    if pv(f"$sht({CONNSEEN}=>{peer})"):
        return True
    KSR.htable.sht_sets(CONNSEEN, peer, ip)
    count = HtableStore().add(CONNS, ip, 1)
    limit = state.config().connections_per_source
    if count <= limit:
        return True
    KSR.htable.sht_rm(CONNSEEN, peer)  # closed by the edge: no close event gives this unit back
    HtableStore().add(CONNS, ip, -1)
    HtableStore().add(METRICS, "connection_cutoffs", 1)
    KSR.warn(f"edge: connection from {ip} closed: more than {limit} open connections from that address\n")
    KSR.tcpops.tcp_close_connection()
    return False


def on_connection_closed() -> None:
    peer = host_port(pv("$si"), pv("$sp"))
    ip = pv(f"$sht({CONNSEEN}=>{peer})")
    if ip:
        KSR.htable.sht_rm(CONNSEEN, peer)
        HtableStore().add(CONNS, ip, -1)


def guard_sanity() -> bool:
    """Malformed requests get the sanity module's error reply and go no further (a cost to their source)."""
    if KSR.sanity.sanity_check_defaults() > 0:
        return True
    charge()
    return False


def guard_method() -> bool:
    """A registrar: REGISTER goes on; OPTIONS to the edge is answered; ACK is absorbed; the rest is refused."""
    if KSR.is_REGISTER():
        return True
    if KSR.is_OPTIONS():
        KSR.sl.sl_send_reply(200, "OK")
    elif not KSR.is_ACK():
        charge()
        KSR.hdr.append_to_reply(f"Allow: REGISTER, OPTIONS, {calling.ALLOW}\r\n")
        KSR.sl.sl_send_reply(405, "Method Not Allowed")
    return False


def guard_flood() -> bool:
    """A banned source (too many costly requests, sipedge/limits.py) is dropped silently until its ban expires;
    pike is the raw-rate backstop (PIKE_DENSITY per 2 s, high enough for many phones behind one NAT)."""
    if state.limits().banned(pv("$si")):
        return False
    return bool(KSR.pike.pike_check_req() >= 0)


def guard_request_line(request: Request) -> bool:
    if not request.to_user:
        KSR.sl.sl_send_reply(400, "Missing To user")
        return False
    return True


def lookup(request: Request) -> tuple[bool, Account | None]:
    """(answered, account): a backend that does not answer in time costs the phone a 503, not the worker."""
    try:
        return False, state.directory().find(request.to_user)
    except DirectoryUnavailable as exc:
        KSR.warn(f"edge: account lookup failed for {request.to_user}: {exc}\n")
        KSR.hdr.append_to_reply(f"Retry-After: {RETRY_AFTER_SECONDS}\r\n")
        KSR.sl.sl_send_reply(503, "Account Store Unavailable")
        return True, None


def guard_credentials(realm: str) -> bool:
    """No digest for this realm yet: challenge (401, a cost until a valid digest refunds it). Every refusal comes
    after the challenge."""
    if KSR.auth.has_credentials(realm) > 0:
        return True
    charge(challenge=True)
    KSR.auth.auth_challenge(realm, QOP_AUTH)
    return False


def refuse(request: Request, account: Account | None, refusal: Refusal) -> bool:
    KSR.sl.sl_send_reply(403, refusal.phrase)
    emit("refused", request, account, contact=contact_uri(request.contact), reason=refusal.reason)
    return False


def lock_out(request: Request, account: Account) -> None:
    """The failure that locked the account: the event (the control plane shows it) and a log line."""
    config = state.config()
    HtableStore().add(METRICS, "lockouts", 1)
    KSR.warn(f"edge: account {account.id} locked out for {config.lockout_seconds} s after "
             f"{config.lockout_failures} wrong digests (last from {request.source_ip})\n")  # fmt: skip
    emit("locked_out", request, account, expires=config.lockout_seconds, reason="too_many_failures")


def failed_digest(request: Request, account: Account | None) -> bool:
    """A digest that does not match (or an account that cannot match): one answer for every case."""
    charge()
    if account is None:
        return refuse(request, None, Refusal.UNKNOWN_USER)
    if not account.ha1:
        return refuse(request, account, Refusal.NOT_ACTIVATED)
    refuse(request, account, Refusal.WRONG_PASSWORD)
    if state.limits().failed(account.id):
        lock_out(request, account)
    return False


def guard_digest(request: Request, account: Account | None, realm: str) -> bool:
    """The digest against the stored HA1 (never a password); unknown and never-activated users are checked
    against a decoy, so every answer is the one a wrong password gets. A stale or reused nonce is challenged
    again; a locked-out account is refused even with the right password. The same for a REGISTER and an INVITE
    (401 or 407 is auth_challenge's choice by method; pv_auth_check reads Authorization or Proxy-Authorization)."""
    ha1 = account.ha1 if account is not None and account.ha1 else DECOY_HA1
    code = KSR.auth.pv_auth_check(realm, ha1, AUTH_HA1, AUTH_CHECK_ID)
    if code in AUTH_RECHALLENGE:
        KSR.auth.auth_challenge(realm, QOP_AUTH)
        return False
    if account is not None and account.ha1 and state.limits().locked(account.id, account.lock_lifted_at):
        charge()
        return refuse(request, account, Refusal.LOCKED_OUT)
    if code <= 0 or account is None or not account.ha1:
        return failed_digest(request, account)
    KSR.auth.consume_credentials()
    state.limits().refund(request.source_ip)
    return True


def guard_policy(request: Request, account: Account) -> bool:
    refusal = refusal_after_auth(account, request.source_ip, request.transport, state.config().default_transports)
    return refuse(request, account, refusal) if refusal else True


def save(request: Request, account: Account) -> None:
    """usrloc keeps the contact (with the source address as `received`); the registry hears of it."""
    config = state.config()
    # the fleet's location: the contact names this task, the holder of the phone's connection (a phone's own Path
    # is never trusted)
    KSR.hdr.remove("Path")
    KSR.hdr.append(path_header(config.internal_hop, request.source_ip, request.source_port, request.transport))
    KSR.textopsx.msg_apply_changes()
    if request.contact:
        KSR.nathelper.fix_nated_register()
    if KSR.registrar.save(LOCATION, SAVE_SINGLE_CONTACT) < 0:
        KSR.warn(f"edge: save failed for {request.to_user}\n")  # registrar has answered with the error
        return
    if request.transport in ("tcp", "tls"):  # a registered phone's connection stays open (the edge pings over it)
        KSR.tcpops.tcp_set_connection_lifetime(config.max_expires + TCP_LIFETIME_MARGIN)
    if not request.contact:
        return  # a query of the current bindings: nothing changed
    expires = register_expires(
        request.contact, request.expires, config.min_expires, config.max_expires, config.default_expires
    )
    contact = contact_uri(request.contact)
    kind = "registered" if expires > 0 else "unregistered"
    if contact != "*":  # `Contact: *` removes every contact: the registry reports the one it knows
        emit(kind, request, account, contact=contact, expires=expires)
    fact = {
        "aor": request.to_user,
        "aor_uri": f"sip:{request.to_user}@{request.to_domain or 'edge'}",
        "username": request.to_user,
        "account_id": account.id,
        "contact": contact,
        "source": request.source,
        "transport": request.transport,
        "socket": request.socket,
        "user_agent": request.user_agent,
        "expires": expires,
        "keep_alive": account.keep_alive,
        "conid": pv("$conid"),  # the TCP/TLS connection (closed after keep-alive failures)
    }
    queue(FACTS_QUEUE, kind, fact)


def route_register() -> None:
    request = Request.read()
    if not guard_request_line(request):
        return
    answered, account = lookup(request)
    if answered:
        return
    # one realm for everybody, known or not: the To domain (an account's HA1 is made with its SIP domain, which
    # is the domain its phone registers to; any other domain cannot match its digest)
    realm = request.to_domain
    if not guard_credentials(realm) or not guard_digest(request, account, realm):
        return
    assert account is not None  # guard_digest refused the unknown user
    if guard_policy(request, account):
        save(request, account)


def route_request() -> int:
    for guard in (guard_dmq, guard_fleet, guard_flood, guard_connection, guard_sanity, *calling.GUARDS, guard_method):
        if not guard():
            return 1
    route_register()
    return 1


# ----- timer processes and event callbacks --------------------------------------------------------------------


def drain(name: str, limit: int = DRAIN_LIMIT) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    while len(items) < limit and KSR.mqueue.mq_fetch(name) > 0:
        items.append((str(KSR.mqueue.mqk_get(name)), str(KSR.mqueue.mqv_get(name))))
    return items


def send_events() -> None:
    sender = state.sender()
    sender.add(body for _, body in drain(EVENTS_QUEUE))
    sender.flush()


def apply_fact(registry: Registry, kind: str, body: str) -> None:
    fact = json.loads(body)
    if kind == "registered":
        registry.registered(fact)
    elif kind == "unregistered":
        registry.unregistered(fact)
    elif kind == "expired":
        registry.expired(fact)
    elif kind == "ping_reply":
        registry.ping_reply(str(fact["token"]), int(fact["code"]))


def run_registry() -> None:
    registry = state.registry()
    for kind, body in drain(FACTS_QUEUE):
        try:
            apply_fact(registry, kind, body)
        except (ValueError, KeyError, TypeError) as exc:
            KSR.err(f"edge: bad fact {kind}: {type(exc).__name__}\n")
    registry.tick()


@dataclass(frozen=True)
class LocatedContact:
    address: str
    path: str
    ruid: str
    received: str
    socket: str


def _unexpired(expires: str) -> bool:
    """usrloc keeps an expired contact until its timer runs (SIP_USRLOC_TIMER_SECONDS): a lookup skips it."""
    return not expires.isdigit() or int(expires) == 0 or int(expires) > time.time()


def location_of(aor_uri: str) -> list[LocatedContact]:
    """The contacts of an AOR in the fleet's location (this task's usrloc, replicated by dmq_usrloc)."""
    profile = "loc"
    if KSR.registrar.reg_fetch_contacts(LOCATION, aor_uri, profile) < 0:
        return []
    try:
        return [
            LocatedContact(
                *(pv(f"$(ulc({profile}=>{name})[{index}])") for name in ("addr", "path", "ruid", "received", "socket"))
            )
            for index in range(int(pv(f"$ulc({profile}=>count)") or 0))
            if _unexpired(pv(f"$(ulc({profile}=>expires)[{index}])"))
        ]
    finally:
        KSR.registrar.reg_free_contacts(profile)


def route_to(aor_uri: str) -> LocatedContact | None:
    """Points the request at the AOR's phone (None when it has no contact): straight to its connection when this
    task holds it; else to the holder's internal socket with the contact's Path as Route, from this task's internal
    socket (the holder accepts such calls only from the bus, guard_fleet). registrar's lookup is not used: its
    `path_check_local` compares hosts only, and the tasks of a local fleet share one address."""
    contacts = location_of(aor_uri)
    if not contacts:
        return None
    contact, hop = contacts[0], state.config().internal_hop  # one contact per AOR (SAVE_SINGLE_CONTACT)
    KSR.pv.sets("$ru", contact.address)
    if held_here(contact.path, hop):
        if contact.received:
            KSR.pv.sets("$du", contact.received)
        if contact.socket and contact.socket != "[not set]":
            KSR.pv.sets("$fs", contact.socket)
    else:
        KSR.hdr.insert(f"Route: {contact.path}\r\n")
        KSR.pv.sets("$du", f"sip:{holder_of(contact.path)}")
        KSR.pv.sets("$fs", f"udp:{hop}")
    return contact


class KemiActions:
    """The registry's requests to Kamailio: OPTIONS over the phone's own connection, drop a contact, an event."""

    def send_ping(self, registration: Registration, token: str) -> bool:
        host = registration.source
        KSR.pv.sets("$uac_req(method)", "OPTIONS")
        KSR.pv.sets("$uac_req(ruri)", registration.contact)
        KSR.pv.sets("$uac_req(turi)", registration.contact)
        KSR.pv.sets("$uac_req(furi)", f"sip:keepalive@{host}")
        # the next hop is where the REGISTER came from, over the socket it came in on: for TCP and TLS
        # Kamailio finds the phone's open connection to that address and reuses it
        KSR.pv.sets("$uac_req(ouri)", f"sip:{host};transport={registration.transport}")
        KSR.pv.sets("$uac_req(sock)", registration.socket)
        KSR.pv.sets("$uac_req(hdrs)", "Max-Forwards: 1\r\n")
        KSR.pv.sets("$uac_req(body)", "")
        KSR.pv.seti("$uac_req(evroute)", 1)
        KSR.pv.sets("$uac_req(evparam)", token)
        return bool(KSR.uac.uac_req_send() > 0)

    def _own(self, registration: Registration) -> LocatedContact | None:
        """This task's contact for the registration in the fleet's location, or None (gone, or held by another
        task now: its drop would remove the phone's live binding across the fleet)."""
        hop = state.config().internal_hop
        for contact in location_of(registration.aor_uri):
            if contact.address == registration.contact and held_here(contact.path, hop):
                return contact
        return None

    def holds(self, registration: Registration) -> bool:
        return self._own(registration) is not None

    def drop(self, registration: Registration) -> bool:
        contact = self._own(registration)
        return contact is not None and KSR.registrar.unregister_ruid(LOCATION, registration.aor_uri, contact.ruid) > 0

    def close(self, registration: Registration) -> None:
        conid = registration.conid
        if registration.transport in ("tcp", "tls") and conid.isdigit():
            KSR.tcpops.tcp_close_connection_id(int(conid))

    def emit(self, event: dict[str, Any]) -> None:
        queue(EVENTS_QUEUE, str(event["kind"]), event)


def on_contact_expired() -> None:
    if not held_here(pv("$ulc(exp=>path)"), state.config().internal_hop):
        return  # a copy of another task's contact (dmq_usrloc): that task reports its expiry
    queue(FACTS_QUEUE, "expired", {"aor": pv("$ulc(exp=>aor)"), "contact": pv("$ulc(exp=>addr)")})


def on_uac_reply() -> None:
    token = pv("$uac_req(evparam)")
    code = pv("$uac_req(evcode)")
    if token:
        queue(FACTS_QUEUE, "ping_reply", {"token": token, "code": int(code) if code.isdigit() else 0})


class kamailio:  # the class name app_python3 expects
    """The object app_python3 calls; each method is a route or callback named in kamailio.cfg."""

    def child_init(self, rank: int) -> int:
        state.reset()
        return 0

    def ksr_request_route(self, msg: Any) -> int:
        return route_request()

    def ksr_reply_route(self, msg: Any) -> int:
        """Replies Kamailio receives (to the edge's OPTIONS pings): tm matches them; nothing to route."""
        return 1

    def ksr_timer_events(self, msg: Any, evname: str = "") -> int:
        send_events()
        return 1

    def ksr_timer_registry(self, msg: Any, evname: str = "") -> int:
        run_registry()
        return 1

    def ksr_registrar_event(self, msg: Any, evname: str = "") -> int:
        if evname == "usrloc:contact-expired":
            on_contact_expired()
        return 1

    def ksr_tcpops_event(self, msg: Any, evname: str = "") -> int:
        """tcp:closed, tcp:timeout, tcp:reset: the connection no longer counts for its address."""
        on_connection_closed()
        return 1

    def ksr_uac_event(self, msg: Any, evname: str = "") -> int:
        if evname == "uac:reply":
            on_uac_reply()
        return 1

    def ksr_onsend_route(self, msg: Any) -> int:
        """Kamailio runs this before sending a relayed request (calls): nothing to check there."""
        return 1

    # calls (calling.py)
    def ksr_call_reply(self, msg: Any) -> int:
        calling.on_reply()
        return 1

    def ksr_call_failure(self, msg: Any) -> int:
        calling.on_failure()
        return 1

    def ksr_dialog_event(self, msg: Any, evname: str = "") -> int:
        calling.on_dialog_event(evname)
        return 1

    def ksr_announcement_end(self, msg: Any) -> int:
        calling.end_announcement()
        return 1


def mod_init() -> kamailio:
    return kamailio()
