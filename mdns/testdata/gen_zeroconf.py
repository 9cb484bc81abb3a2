"""Writes mDNS messages encoded by python-zeroconf (Debian python3-zeroconf)
as golden packets for the parser's tests and fuzz seeds. It uses only the
encoder: nothing is sent. Run: /usr/bin/python3 gen_zeroconf.py"""
import socket
from zeroconf import DNSOutgoing, DNSAddress, DNSNsec, DNSPointer, DNSService, DNSText, DNSQuestion, const

now = 0
flags = const._FLAGS_QR_RESPONSE | const._FLAGS_AA
out = DNSOutgoing(flags, multicast=True)
ttl = 120
cls = const._CLASS_IN | const._CLASS_UNIQUE
out.add_answer_at_time(DNSPointer("_http._tcp.local.", const._TYPE_PTR, const._CLASS_IN, 4500, "Printer._http._tcp.local."), now)
out.add_additional_answer(DNSService("Printer._http._tcp.local.", const._TYPE_SRV, cls, ttl, 0, 0, 631, "printer.local."))
out.add_additional_answer(DNSText("Printer._http._tcp.local.", const._TYPE_TXT, cls, 4500, b"\x07path=/p\x04rp=x"))
out.add_additional_answer(DNSAddress("printer.local.", const._TYPE_A, cls, ttl, socket.inet_aton("198.18.0.1")))
out.add_additional_answer(DNSNsec("printer.local.", const._TYPE_NSEC, cls, ttl, "printer.local.", [const._TYPE_A]))
open("zeroconf-response.bin", "wb").write(out.packets()[0])

q = DNSOutgoing(const._FLAGS_QR_QUERY, multicast=True)
q.add_question(DNSQuestion("_http._tcp.local.", const._TYPE_PTR, const._CLASS_IN))
q.add_question(DNSQuestion("tapdns.local.", const._TYPE_A, const._CLASS_IN | const._CLASS_UNIQUE))
q.add_answer_at_time(DNSPointer("_http._tcp.local.", const._TYPE_PTR, const._CLASS_IN, 4500, "Other._http._tcp.local."), now)
open("zeroconf-query.bin", "wb").write(q.packets()[0])
