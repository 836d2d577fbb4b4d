"""Calls every read-only method of libvirt-python's virConnect, virDomain,
virNetwork, virStoragePool, virStorageVol, virNodeDevice, virInterface and
virDomainSnapshot on test:///default's default objects, and prints one JSON
line per call: {"key": "Class.method", "ok": bool, "value" or "error"}.
compat/python_test.go runs it against govirtd and a real libvirtd and
compares the lines. Usage: readonly.py URI"""
import json
import sys

import libvirt

VOL_XML = """<volume><name>pyvol</name>
<capacity unit='bytes'>1048576</capacity></volume>"""
SNAP_XML = "<domainsnapshot><name>pysnap</name></domainsnapshot>"
CPU_XML = "<cpu><arch>i686</arch><model>pentium3</model></cpu>"
TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

# Per class: method name and its arguments. Every read-only method of the
# class is here; methods that change state or need a stream are not.
METHODS = {
    "virConnect": [
        ("baselineCPU", [CPU_XML]), ("baselineHypervisorCPU", [None, None, None, None, [CPU_XML]]),
        ("compareCPU", [CPU_XML]), ("compareHypervisorCPU", [None, None, None, None, CPU_XML]),
        ("findStoragePoolSources", ["logical", None]),
        ("getAllDomainStats", []), ("getCPUMap", []), ("getCPUModelNames", ["i686"]),
        ("getCPUStats", [-1]), ("getCapabilities", []), ("getCellsFreeMemory", [0, 2]),
        ("getDomainCapabilities", []), ("getFreeMemory", []), ("getFreePages", [[4], 0, 2]),
        ("getHostname", []), ("getInfo", []), ("getLibVersion", []), ("getMaxVcpus", [None]),
        ("getMemoryParameters", []), ("getMemoryStats", [-1]), ("getSEVInfo", []),
        ("getSecurityModel", []), ("getStoragePoolCapabilities", []), ("getSysinfo", []),
        ("getType", []), ("getURI", []), ("getVersion", []),
        ("interfaceLookupByMACString", ["aa:bb:cc:dd:ee:ff"]), ("interfaceLookupByName", ["eth1"]),
        ("interfaceLookupByMACString", ["AA:BB:CC:DD:EE:FF"]), ("interfaceLookupByMACString", ["00:11:22:33:44:55"]),
        ("interfaceLookupByName", ["nosuch"]),
        ("isAlive", []), ("isEncrypted", []), ("isSecure", []),
        ("listAllDevices", []), ("listAllDomains", []), ("listAllInterfaces", []),
        ("listAllDevices", [libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_HOST]),
        ("listAllDevices", [libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS]),
        ("listAllDevices", [libvirt.VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE]),
        ("listAllInterfaces", [libvirt.VIR_CONNECT_LIST_INTERFACES_ACTIVE]),
        ("listAllInterfaces", [libvirt.VIR_CONNECT_LIST_INTERFACES_INACTIVE]),
        ("listDevices", ["scsi_host"]), ("listDevices", ["fc_host"]), ("listDevices", ["vports"]),
        ("numOfDevices", ["vports"]), ("numOfDevices", ["nosuchcap"]),
        ("listAllNWFilterBindings", []), ("listAllNWFilters", []), ("listAllNetworks", []),
        ("listAllSecrets", []), ("listAllStoragePools", []),
        ("listDefinedDomains", []), ("listDefinedInterfaces", []), ("listDefinedNetworks", []),
        ("listDefinedStoragePools", []), ("listDevices", [None]), ("listDomainsID", []),
        ("listInterfaces", []), ("listNWFilters", []), ("listNetworks", []),
        ("listSecrets", []), ("listStoragePools", []),
        ("lookupByID", [1]), ("lookupByName", ["test"]), ("lookupByUUIDString", [TEST_UUID]),
        ("networkLookupByName", ["default"]), ("networkLookupByUUIDString", ["dd8fe884-6c02-601e-7551-cca97df1c5df"]),
        ("listAllNetworks", [libvirt.VIR_CONNECT_LIST_NETWORKS_INACTIVE]), ("nodeDeviceLookupByName", ["computer"]),
        ("nodeDeviceLookupByName", ["scsi_host1"]), ("nodeDeviceLookupByName", ["nosuch"]),
        ("nodeDeviceLookupSCSIHostByWWN", ["2000000012341234", "1000000012341234"]),
        ("numOfDefinedDomains", []), ("numOfDefinedInterfaces", []), ("numOfDefinedNetworks", []),
        ("numOfDefinedStoragePools", []), ("numOfDevices", [None]), ("numOfDomains", []),
        ("numOfInterfaces", []), ("numOfNWFilters", []), ("numOfNetworks", []),
        ("numOfSecrets", []), ("numOfStoragePools", []),
        ("nwfilterLookupByName", ["allow-arp"]), ("secretLookupByUsage", [libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, "/x"]),
        ("storagePoolLookupByName", ["default-pool"]), ("storagePoolLookupByTargetPath", ["/default-pool"]),
        ("storageVolLookupByPath", ["/default-pool/pyvol"]),
        ("storagePoolLookupByUUIDString", ["dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"]),
        ("storagePoolLookupByUUIDString", ["00000000-0000-0000-0000-000000000000"]),
        ("storageVolLookupByKey", ["/default-pool/pyvol"]),
        ("storageVolLookupByKey", ["/nowhere"]),
        ("listAllStoragePools", [libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE]),
        ("listAllStoragePools", [libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_DIR | libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE]),
        ("listAllStoragePools", [libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_LOGICAL]),
    ],
    "virDomain": [
        ("ID", []), ("OSType", []), ("UUIDString", []), ("XMLDesc", []), ("XMLDesc", [libvirt.VIR_DOMAIN_XML_INACTIVE]),
        ("autostart", []), ("blkioParameters", []), ("blockInfo", ["vda"]), ("blockIoTune", ["vda"]),
        ("blockJobInfo", ["vda"]), ("blockStats", ["vda"]), ("blockStatsFlags", ["vda"]),
        ("controlInfo", []), ("diskErrors", []), ("emulatorPinInfo", []), ("fsInfo", []),
        ("getCPUStats", [True]), ("getCPUStats", [False]), ("getTime", []), ("guestInfo", []), ("guestVcpus", []),
        ("hasCurrentSnapshot", []), ("hasManagedSaveImage", []), ("hostname", []), ("info", []),
        ("interfaceAddresses", [libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE]),
        ("interfaceParameters", ["testnet0"]), ("interfaceStats", ["testnet0"]),
        ("ioThreadInfo", []), ("isActive", []), ("isPersistent", []), ("isUpdated", []),
        ("jobInfo", []), ("jobStats", []), ("launchSecurityInfo", []),
        ("listAllCheckpoints", []), ("listAllSnapshots", []), ("managedSaveGetXMLDesc", []),
        ("maxMemory", []), ("maxVcpus", []), ("memoryParameters", []), ("memoryStats", []),
        ("messages", []), ("metadata", [libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None]),
        ("migrateGetCompressionCache", []), ("migrateGetMaxDowntime", []), ("migrateGetMaxSpeed", []),
        ("name", []), ("numaParameters", []), ("perfEvents", []), ("schedulerParameters", []),
        ("schedulerParametersFlags", []), ("schedulerType", []), ("securityLabel", []),
        ("securityLabelList", []), ("snapshotCurrent", []), ("snapshotListNames", []),
        ("snapshotLookupByName", ["pysnap"]), ("snapshotNum", []), ("state", []),
        ("vcpuPinInfo", []), ("vcpus", []), ("vcpusFlags", []),
        ("authorizedSSHKeysGet", ["root"]), ("backupGetXMLDesc", []),
    ],
    "virNetwork": [
        ("DHCPLeases", []), ("UUID", []), ("UUIDString", []), ("XMLDesc", []),
        ("XMLDesc", [libvirt.VIR_NETWORK_XML_INACTIVE]), ("autostart", []), ("bridgeName", []),
        ("isActive", []), ("isPersistent", []), ("listAllPorts", []), ("name", []),
    ],
    "virStoragePool": [
        ("UUIDString", []), ("XMLDesc", []), ("autostart", []), ("info", []), ("isActive", []),
        ("isPersistent", []), ("listAllVolumes", []), ("listVolumes", []), ("name", []),
        ("numOfVolumes", []), ("storageVolLookupByName", ["pyvol"]), ("storageVolLookupByName", ["novol"]),
        ("UUID", []), ("listAllVolumes", [1]),
    ],
    "virStorageVol": [
        ("XMLDesc", []), ("info", []), ("infoFlags", []), ("key", []), ("name", []), ("path", []),
        ("storagePoolLookupByVolume", []),
    ],
    "virNodeDevice": [
        ("XMLDesc", []), ("autostart", []), ("isActive", []), ("isPersistent", []), ("listCaps", []),
        ("name", []), ("numOfCaps", []), ("parent", []),
    ],
    "virInterface": [
        ("MACString", []), ("XMLDesc", []), ("XMLDesc", [libvirt.VIR_INTERFACE_XML_INACTIVE]),
        ("isActive", []), ("name", []),
    ],
    "virDomainSnapshot": [
        ("getName", []), ("getParent", []), ("getXMLDesc", []), ("hasMetadata", []), ("isCurrent", []),
        ("listAllChildren", []), ("listChildrenNames", []), ("numChildren", []),
    ],
}


def plain(v):
    """A JSON-able value: libvirt objects by their name, lists of them (or of records led by them) sorted."""
    for attr in ("getName", "name"):
        if hasattr(v, attr) and hasattr(v, "c_pointer"):
            return "<%s %s>" % (type(v).__name__, getattr(v, attr)())
    if isinstance(v, (list, tuple)):
        items = [plain(x) for x in v]
        if items and all(isinstance(x, str) and x.startswith("<vir") for x in items):
            items.sort()
        elif items and all(isinstance(x, list) and x and isinstance(x[0], str) and x[0].startswith("<vir") for x in items):
            # Records per object (getAllDomainStats): libvirt lists them
            # in its hash table's order, which is no contract.
            items.sort(key=lambda x: x[0])
        return items
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, bytes):
        return v.hex()
    return v


def main():
    libvirt.registerErrorHandler(lambda *a: None, None)
    conn = libvirt.open(sys.argv[1])
    objs = {"virConnect": conn}
    setup = [
        ("virDomain", lambda: conn.lookupByName("test")),
        ("virNetwork", lambda: conn.networkLookupByName("default")),
        ("virStoragePool", lambda: conn.storagePoolLookupByName("default-pool")),
        ("virStorageVol", lambda: objs["virStoragePool"].createXML(VOL_XML)),
        ("virNodeDevice", lambda: conn.nodeDeviceLookupByName("computer")),
        ("virInterface", lambda: conn.interfaceLookupByName("eth1")),
        ("virDomainSnapshot", lambda: objs["virDomain"].snapshotCreateXML(SNAP_XML)),
    ]
    for cls, make in setup:
        try:
            objs[cls] = make()
        except (libvirt.libvirtError, AttributeError) as e:
            objs[cls] = e
    for cls, methods in METHODS.items():
        obj = objs[cls]
        for name, args in methods:
            key = "%s.%s(%s)" % (cls, name, ",".join(repr(a) for a in args)[:40])
            line = {"key": key}
            if isinstance(obj, Exception):
                line.update(ok=False, error="no %s to call it on: %s" % (cls, obj))
            else:
                try:
                    value = getattr(obj, name)(*args)
                    # libvirt keeps devices and interfaces in hash tables,
                    # so it lists their names in an order that changes
                    # from run to run: the names are compared sorted.
                    if name.startswith("list") and isinstance(value, list) and all(isinstance(x, str) for x in value):
                        value = sorted(value)
                    line.update(ok=True, value=plain(value))
                except libvirt.libvirtError as e:
                    line.update(ok=False, error=[e.get_error_code(), e.get_error_domain(), e.get_error_message()])
                except Exception as e:  # the binding's own checks, e.g. a None where a list is due
                    line.update(ok=False, error=["python", type(e).__name__, str(e)])
            print(json.dumps(line, sort_keys=True))


main()
