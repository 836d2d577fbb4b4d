// Package test is the in-memory test driver (test:///default), in the
// image of libvirt's: it starts with one persistent domain, "test",
// running with id 1, and keeps its state for as long as the daemon runs
// (libvirt's resets when its last connection closes; ours does not).
package test

import (
	"context"
	"net/url"
	"os"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Driver is the test driver's state, shared by all its connections.
type Driver struct {
	// mu guards everything below, and is held while events are emitted
	// so that they leave in the order of the changes.
	mu      sync.Mutex
	domains drivers.DomainObjList[*domain] // in definition order
	nextID  int32                          // the id the next started domain gets
	extra   map[drivers.UUID]*domainExtra  // by domain UUID; see managedsave.go

	events drivers.CallbackList

	ifaces   *interfaces  // host interfaces, with their own lock; see interfaces.go
	nodeDevs *nodeDevices // host devices, with their own lock; see nodedevs.go
	nets     *networks    // the network concern; see networks.go
	pools    *poolState   // the storage concern; its own lock (pools.go)
}

// defaultDomainXML is the domain test:///default starts with: name, uuid,
// sizes and devices as in libvirt's test driver.
const defaultDomainXML = `<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>`

// New returns a test driver holding the default domain, running as id 1.
func New() *Driver {
	d := &Driver{nextID: 1, ifaces: newInterfaces(), nodeDevs: newNodeDevices(), nets: newNetworks(), pools: newPoolState()}
	def, err := domxml.Parse(defaultDomainXML)
	if err != nil {
		panic("test driver: default domain: " + err.Error())
	}
	dom := &domain{persistent: def}
	d.domains.Add(dom)
	// libvirt's test driver starts its default domain with reason unknown.
	d.start(dom, vir.DomainRunningUnknown)
	return d
}

// Name is the driver's name.
func (d *Driver) Name() string { return "Test" }

// Open accepts test:///default.
func (d *Driver) Open(ctx context.Context, uri *url.URL, flags uint32) (drivers.Conn, error) {
	if uri.Scheme != "test" {
		return nil, drivers.ErrDeclined
	}
	if uri.Path != "/default" || uri.Host != "" {
		return nil, drivers.Errorf(vir.ErrNoSupport, vir.FromTest,
			"only test:///default is served, not %s", uri.Redacted())
	}
	return &conn{drv: d}, nil
}

// conn is one open connection; it identifies its callbacks in the list.
type conn struct {
	drv       *Driver
	callbacks drivers.ConnCallbacks
}

func (c *conn) Close() error {
	c.callbacks.Close(&c.drv.events, c)
	c.drv.nodeDevs.callbacks.RemoveConn(c)
	c.drv.nets.events.RemoveConn(c)
	c.drv.pools.events.RemoveConn(c)
	return nil
}

// immediate are the procedures the test driver serves in memory under
// its lock without ever waiting. Save and restore, which read and write
// files, are not among them; a new operation is not either until it is
// added here.
var immediate = drivers.ProcSet(drivers.StateQueries, networkProcs, hvImmediate, []protocol.Procedure{
	protocol.ProcConnectGetCapabilities, protocol.ProcNodeGetInfo, protocol.ProcNodeGetCellsFreeMemory,
	protocol.ProcNodeGetFreeMemory, protocol.ProcNodeGetSecurityModel, protocol.ProcDomainGetSecurityLabel,
	protocol.ProcConnectGetSysinfo, protocol.ProcConnectGetMaxVcpus, protocol.ProcNodeGetCPUMap,
	protocol.ProcDomainCreate, protocol.ProcDomainCreateWithFlags, protocol.ProcDomainCreateXML,
	protocol.ProcDomainDefineXML, protocol.ProcDomainDefineXMLFlags,
	protocol.ProcDomainUndefine, protocol.ProcDomainUndefineFlags,
	protocol.ProcDomainDestroy, protocol.ProcDomainDestroyFlags,
	protocol.ProcDomainShutdown, protocol.ProcDomainShutdownFlags, protocol.ProcDomainReboot,
	protocol.ProcDomainSuspend, protocol.ProcDomainResume, protocol.ProcDomainSetAutostart,
	protocol.ProcDomainGetInfo, protocol.ProcDomainGetXMLDesc,
	protocol.ProcDomainHasManagedSaveImage, protocol.ProcDomainSnapshotNum,
}, ifaceProcs, nodeDevProcs, poolProcs)

// Immediate reports the procedures the daemon may run on the client's
// reader goroutine (drivers.Immediate).
func (c *conn) Immediate(proc protocol.Procedure) bool { return immediate[proc] }

// ConnectGetType answers "TEST", libvirt's test driver's name.
func (c *conn) ConnectGetType(context.Context) (string, error) { return "TEST", nil }

func (c *conn) ConnectGetURI(context.Context) (string, error) { return "test:///default", nil }

// ConnectGetVersion answers 2 (0.0.2), as libvirt's test driver does.
func (c *conn) ConnectGetVersion(context.Context) (uint64, error) { return 2, nil }

func (c *conn) ConnectGetHostname(context.Context) (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", drivers.Errorf(vir.ErrSystemError, vir.FromTest, "cannot get hostname: %v", err)
	}
	return h, nil
}

// NodeGetInfo answers libvirt's test driver's fixed host: 16 CPUs at
// 1.4 GHz in 2 NUMA nodes, 3 GiB.
func (c *conn) NodeGetInfo(context.Context) (drivers.NodeInfo, error) {
	return drivers.NodeInfo{
		Model: "i686", Memory: 3 * 1024 * 1024,
		CPUs: 16, MHz: 1400, Nodes: 2, Sockets: 2, Cores: 2, Threads: 2,
	}, nil
}

func (c *conn) ConnectDomainEventRegisterAny(ctx context.Context, dom *drivers.Domain, eventID vir.DomainEventID, cb drivers.EventCallback) (int, error) {
	return c.callbacks.Register(&c.drv.events, c, eventID, dom, cb)
}

func (c *conn) ConnectDomainEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.drv.events.Deregister(c, callbackID)
}

// Callbacks is the number of event callbacks registered, for tests.
func (d *Driver) Callbacks() int { return d.events.Len() }
