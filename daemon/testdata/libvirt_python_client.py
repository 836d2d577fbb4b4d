"""Drives govirtd with libvirt-python, the real Python binding of libvirt
(Debian's python3-libvirt), as the daemon test TestLibvirtPython runs it:

    python3 libvirt_python_client.py URI DOMAIN_XML

It prints one line per step; the test compares them with what it expects.
"""
import sys
import threading

import libvirt

uri, xml_path = sys.argv[1], sys.argv[2]

# libvirt's own event loop, on a thread, as applications run it.
libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()

conn = libvirt.open(uri)
print("type", conn.getType(), conn.getLibVersion())

events = []
got = threading.Event()


def lifecycle(conn, dom, event, detail, opaque):
    events.append((dom.name(), event, detail))
    # A callback may call back into the library.
    dom.info()
    if len(events) == 4:
        got.set()


cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)

with open(xml_path) as f:
    dom = conn.defineXML(f.read())
print("defined", dom.name(), dom.ID(), dom.isPersistent())
dom.create()
print("started", dom.ID(), dom.state())
dom.suspend()
print("suspended", dom.state())
dom.resume()
print("resumed", dom.state())
got.wait(20)
print("events", events)
conn.domainEventDeregisterAny(cb)

try:
    conn.lookupByName("nosuch")
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())

dom.destroy()
dom.undefine()
print("domains", sorted(d.name() for d in conn.listAllDomains(0)))
conn.close()
