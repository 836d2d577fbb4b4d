package protocol

// Concern is the driver table of libvirt's a public API belongs to
// (src/driver-hypervisor.h, driver-network.h, driver-storage.h,
// driver-interface.h, driver-nodedev.h, driver-secret.h,
// driver-nwfilter.h): a connection has one driver per concern, and a
// call goes to the driver of its procedure's concern. The generator
// reads the tables; procedures in none of them (authentication, the
// daemon's own calls) are the hypervisor's, as libvirt's remote driver
// serves them through its hypervisor table.
type Concern uint8

const (
	ConcernHypervisor Concern = iota // domains, the host, the connection itself
	ConcernNetwork                   // virtual networks and their ports
	ConcernStorage                   // storage pools and volumes
	ConcernInterface                 // host network interfaces
	ConcernNodeDevice                // host devices
	ConcernSecret                    // secrets
	ConcernNWFilter                  // network filters and their bindings
	// NumConcerns is the number of concerns: a size for arrays indexed by
	// Concern.
	NumConcerns
)

var concernNames = [NumConcerns]string{"hypervisor", "network", "storage", "interface", "node device", "secret", "nwfilter"}

// String is the concern's name in logs and errors: "network".
func (c Concern) String() string {
	if c < NumConcerns {
		return concernNames[c]
	}
	return "unknown concern"
}
