#!/usr/bin/python3
"""Registers for every class of event libvirt's test driver raises
(domains, networks, storage pools, node devices), makes the same changes
through a second connection, and prints each event received, in order,
one JSON line each. Run by compat/events_test.go against libvirtd and
govirtd; the two outputs must be equal.

The last change defines and undefines the network "zz-sentinel": its
UNDEFINED event is the last to arrive, as each daemon delivers one
connection's events in the order they were raised."""

import json
import os
import sys
import threading

import libvirt

URI = sys.argv[1]
DATA = os.path.dirname(os.path.abspath(__file__))

libvirt.virEventRegisterDefaultImpl()
libvirt.registerErrorHandler(lambda ctx, err: None, None)
watch = libvirt.open(URI)
events = []
done = threading.Event()


def record(cls, name, event, detail):
    events.append({"class": cls, "object": name, "event": event, "detail": detail})
    if cls == "network" and name == "zz-sentinel" and event == libvirt.VIR_NETWORK_EVENT_UNDEFINED:
        done.set()


watch.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                             lambda c, d, e, det, o: record("domain", d.name(), e, det), None)
watch.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE,
                              lambda c, n, e, det, o: record("network", n.name(), e, det), None)
watch.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE,
                                  lambda c, p, e, det, o: record("pool", p.name(), e, det), None)
watch.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH,
                                  lambda c, p, o: record("pool-refresh", p.name(), 0, 0), None)
watch.nodeDeviceEventRegisterAny(None, libvirt.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE,
                                 lambda c, d, e, det, o: record("nodedev", d.name(), e, det), None)


def data(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def changes():
    c = libvirt.open(URI)
    net = c.networkDefineXML(data("net.xml"))
    net.create()
    net.destroy()
    net.undefine()
    c.networkCreateXML(data("net.xml").replace("scratchnet", "transnet")).destroy()

    pool = c.storagePoolDefineXML(data("pool.xml"))
    pool.build()
    pool.create()
    pool.refresh()
    pool.destroy()
    pool.delete()
    pool.undefine()

    # scsi_host1 is the default host that can create vHBAs.
    dev = c.nodeDeviceCreateXML(data("nodedev.xml").replace("scsi_host11", "scsi_host1"))
    dev.destroy()

    dom = c.defineXML(data("scratch.xml"))
    dom.create()
    dom.destroy()
    dom.undefine()

    sentinel = c.networkDefineXML(
        "<network><name>zz-sentinel</name><uuid>00000000-0000-0000-0000-00000000aaaa</uuid></network>")
    sentinel.undefine()
    c.close()


failure = []


def run():
    try:
        changes()
    except libvirt.libvirtError as e:
        failure.append(str(e))
        done.set()


# A periodic timer wakes the loop, so that a failed change ends it too.
libvirt.virEventAddTimeout(100, lambda timer, opaque: None, None)
worker = threading.Thread(target=run)
worker.start()
while not done.is_set():
    libvirt.virEventRunDefaultImpl()
worker.join()
if failure:
    print(json.dumps({"failed": failure[0]}))
    sys.exit(1)
for e in events:
    print(json.dumps(e, sort_keys=True))
