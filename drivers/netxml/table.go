package netxml

import (
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// Obj is one network, as libvirt's virNetworkObj keeps it: Def is the
// live definition while the network is active and the persistent one
// otherwise; NewDef, when not nil, is the persistent definition saved
// while Def is live.
type Obj struct {
	Def        *libvirtxml.Network
	NewDef     *libvirtxml.Network
	UUID       drivers.UUID
	Active     bool
	Persistent bool
	Autostart  bool
}

// Ref names the network as virNetworkPtr does.
func (o *Obj) Ref() drivers.Network { return drivers.Network{Name: o.Def.Name, UUID: o.UUID} }

// PersistentDef is the definition a config change works on.
func (o *Obj) PersistentDef() *libvirtxml.Network {
	if o.NewDef != nil {
		return o.NewDef
	}
	return o.Def
}

// Table is a driver's networks in definition order. It does no locking:
// its driver guards it.
type Table struct {
	// From is the error domain of a failed lookup: the test driver's
	// are VIR_FROM_TEST, the network driver's VIR_FROM_NETWORK.
	From vir.ErrorDomain
	Objs []*Obj
}

// ByName is the network called name, or VIR_ERR_NO_NETWORK.
func (t *Table) ByName(name string) (*Obj, error) {
	for _, o := range t.Objs {
		if o.Def.Name == name {
			return o, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoNetwork, t.From, "no network with matching name '%s'", name)
}

// ByUUID is the network of uuid, or VIR_ERR_NO_NETWORK.
func (t *Table) ByUUID(uuid drivers.UUID) (*Obj, error) {
	if o := t.FindUUID(uuid); o != nil {
		return o, nil
	}
	return nil, drivers.Errorf(vir.ErrNoNetwork, t.From, "no network with matching uuid '%s'", uuid)
}

// FindUUID is the network of uuid, or nil.
func (t *Table) FindUUID(uuid drivers.UUID) *Obj {
	for _, o := range t.Objs {
		if o.UUID == uuid {
			return o
		}
	}
	return nil
}

// Remove takes o out of the table.
func (t *Table) Remove(o *Obj) {
	for i, x := range t.Objs {
		if x == o {
			t.Objs = append(t.Objs[:i], t.Objs[i+1:]...)
			return
		}
	}
}

// Assign adds def as a new network, or gives an existing one of the same
// UUID and name its new definition, as libvirt's virNetworkObjAssignDef
// does: live says def is a running configuration (create), checkLive
// refuses a network already active.
func (t *Table) Assign(def *libvirtxml.Network, uuid drivers.UUID, live, checkLive bool) (*Obj, error) {
	if o := t.FindUUID(uuid); o != nil {
		if o.Def.Name != def.Name {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromNetwork,
				"network '%s' is already defined with uuid %s", o.Def.Name, o.UUID)
		}
		if checkLive && o.Active {
			return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
				"network is already active as '%s'", o.Def.Name)
		}
		switch {
		case live:
			if o.Persistent && o.NewDef == nil {
				o.NewDef = o.Def
			}
			o.Def = def
		case o.Active:
			o.NewDef = def
		default:
			o.NewDef = nil
			o.Def = def
		}
		if !live {
			o.Persistent = true
		}
		return o, nil
	}
	for _, o := range t.Objs {
		if o.Def.Name == def.Name {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromNetwork,
				"network '%s' already exists with uuid %s", def.Name, o.UUID)
		}
	}
	o := &Obj{Def: def, UUID: uuid, Persistent: !live}
	t.Objs = append(t.Objs, o)
	return o, nil
}

// Update applies one virNetworkUpdate to o, as libvirt's
// virNetworkObjUpdate does: flags (AFFECT_LIVE, AFFECT_CONFIG, both, or
// 0 for the live definition of an active network and the persistent one
// otherwise) say which definitions change. It returns the flags it
// resolved; nothing changes when it fails. A network driver keeps the
// persistent definition of an active network in NewDef from its start,
// so that a live-only change is gone when the network stops.
func (o *Obj) Update(command, section uint32, parentIndex int32, doc string, flags uint32) (uint32, error) {
	const live, config = uint32(vir.NetworkUpdateAffectLive), uint32(vir.NetworkUpdateAffectConfig)
	if flags == 0 {
		if o.Active {
			flags = live
		} else {
			flags = config
		}
	}
	if !o.Active && flags&live != 0 {
		return 0, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "network is not running")
	}
	if flags&config != 0 && !o.Persistent {
		return 0, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "cannot change persistent config of a transient network")
	}
	var liveDef, configDef *libvirtxml.Network
	if flags&live != 0 {
		liveDef = Copy(o.Def)
		if err := UpdateSection(liveDef, vir.NetworkUpdateCommand(command), vir.NetworkUpdateSection(section), int(parentIndex), doc); err != nil {
			return 0, err
		}
	}
	if flags&config != 0 {
		configDef = Copy(o.PersistentDef())
		if err := UpdateSection(configDef, vir.NetworkUpdateCommand(command), vir.NetworkUpdateSection(section), int(parentIndex), doc); err != nil {
			return 0, err
		}
	}
	if configDef != nil {
		if o.Active {
			o.NewDef = configDef
		} else {
			o.Def = configDef
		}
	}
	if liveDef != nil {
		o.Def = liveDef
	}
	return flags, nil
}
