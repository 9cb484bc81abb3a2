"""A python-zeroconf peer for tapdns's mDNS tests. Run it with the Debian
interpreter (/usr/bin/python3) inside the test's network namespace; it
prints one JSON object per line on standard output.

  peer.py publish ADDR NAME       register NAME._http._tcp.local. on host NAME.local.
                                  at ADDR; prints {"ready":...}; unregisters (goodbye)
                                  on SIGTERM
  peer.py resolve ADDR HOST       ask HOST's A record; prints {"addrs":[...]}
  peer.py browse ADDR TYPE        browse TYPE and resolve each instance; prints
                                  {"name","server","port","addrs"} per instance
  peer.py listen ADDR             print every record heard on 224.0.0.251:5353 as
                                  {"src","name","type","ttl","flush","data"}
  peer.py defend ADDR HOST        hold HOST: answer ANY and A queries for it with
                                  an A record for ADDR (cache-flush), as a responder
                                  that defends its name does
  peer.py legacy6 IFACE HOST T    send a one-shot (legacy) query for HOST type T from an
                                  ephemeral port to [ff02::fb]:5353; print the reply
  peer.py send SRCADDR HEX        send the bytes HEX from SRCADDR:5353 to 224.0.0.251:5353

python-zeroconf answers A queries for the hosts of its services but not ANY,
which is what probes ask, so it never defends a name against a prober:
defend does.
"""
import json
import select
import signal
import socket
import sys
import threading
import time

from zeroconf import (DNSAddress, DNSIncoming, DNSOutgoing, DNSQuestion, IPVersion, ServiceBrowser, ServiceInfo,
                      Zeroconf, const)

GROUP = "224.0.0.251"


def emit(**kw):
    print(json.dumps(kw), flush=True)


def publish(addr, name):
    zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
    info = ServiceInfo("_http._tcp.local.", name + "._http._tcp.local.", port=631,
                       properties={"path": "/print"}, server=name + ".local.",
                       addresses=[socket.inet_aton(addr)])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    zc.register_service(info)
    emit(ready=name)
    while not stop.wait(0.1):
        pass
    zc.unregister_service(info)
    zc.close()
    emit(closed=name)


def resolve(addr, host, timeout=5.0):
    zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline and not found:
        out = DNSOutgoing(const._FLAGS_QR_QUERY)
        out.add_question(DNSQuestion(host, const._TYPE_A, const._CLASS_IN))
        zc.send(out)
        end = time.monotonic() + 0.5
        while time.monotonic() < end and not found:
            found = [socket.inet_ntoa(r.address) for r in
                     zc.cache.get_all_by_details(host, const._TYPE_A, const._CLASS_IN)]
            time.sleep(0.05)
    zc.close()
    emit(addrs=found)


def browse(addr, type_, timeout=5.0):
    zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
    names = set()

    class Listener:
        def add_service(self, zc, t, name):
            names.add(name)

        def update_service(self, zc, t, name):
            names.add(name)

        def remove_service(self, zc, t, name):
            pass

    ServiceBrowser(zc, type_, Listener())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not names:
        time.sleep(0.05)
    time.sleep(0.3)  # other instances
    for name in sorted(names):
        info = zc.get_service_info(type_, name, timeout=3000)
        if info is None:
            emit(name=name, server=None, port=None, addrs=[])
        else:
            emit(name=name, server=info.server, port=info.port,
                 addrs=[socket.inet_ntoa(a) for a in info.addresses_by_version(IPVersion.V4Only)])
    zc.close()
    emit(done=len(names))


def group_socket(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", 5353))
    mreq = socket.inet_aton(GROUP) + socket.inet_aton(addr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    return s


def listen(addr):
    s = group_socket(addr)
    emit(ready="listen")
    while True:
        data, src = s.recvfrom(65536)
        try:
            msg = DNSIncoming(data)
        except Exception as e:  # what tapdns sends must parse: report it
            emit(src=src[0], error=str(e))
            continue
        if not msg.is_response():
            continue
        if len(msg.answers) != msg.num_answers + msg.num_authorities + msg.num_additionals:
            emit(src=src[0], error="records zeroconf could not read: %r" % data)
        for r in msg.answers:
            emit(src=src[0], name=r.name, type=r.type, ttl=r.ttl, flush=r.unique, data=str(r))


def defend(addr, host):
    s = group_socket(addr)
    emit(ready="defend")
    key = host.lower()
    while True:
        data, src = s.recvfrom(65536)
        try:
            msg = DNSIncoming(data)
        except Exception:
            continue
        if not msg.is_query():
            continue
        for q in msg.questions:
            if q.name.lower() == key and q.type in (const._TYPE_A, const._TYPE_ANY):
                out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
                out.add_answer_at_time(DNSAddress(host, const._TYPE_A, const._CLASS_IN | const._CLASS_UNIQUE,
                                                  120, socket.inet_aton(addr)), 0)
                for p in out.packets():
                    s.sendto(p, (GROUP, 5353))
                emit(defended=src[0])


def legacy6(iface, host, qtype):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    ifindex = socket.if_nametoindex(iface)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.bind(("::", 0))
    out = DNSOutgoing(const._FLAGS_QR_QUERY, multicast=False, id_=0x4242)
    out.add_question(DNSQuestion(host, int(qtype), const._CLASS_IN))
    s.sendto(out.packets()[0], ("ff02::fb", 5353, 0, ifindex))
    r, _, _ = select.select([s], [], [], 3)
    if not r:
        emit(timeout=True)
        return
    data, src = s.recvfrom(65536)
    msg = DNSIncoming(data)
    emit(src=src[0], id=msg.id, questions=[q.name for q in msg.questions],
         answers=[{"name": a.name, "type": a.type, "ttl": a.ttl, "flush": a.unique, "data": str(a)} for a in msg.answers])


def send(srcaddr, hexdata):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(srcaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.bind((srcaddr, 5353))
    s.sendto(bytes.fromhex(hexdata), (GROUP, 5353))
    emit(sent=len(hexdata) // 2)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"publish": publish, "resolve": resolve, "browse": browse, "listen": listen,
     "defend": defend, "legacy6": legacy6, "send": send}[cmd](*args)
