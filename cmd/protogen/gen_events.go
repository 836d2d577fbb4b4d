package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// eventFamilies are the objects whose events the remote program sends:
// the wire name's prefix of their event messages, and the C prefix of
// their event ids (virDomainEventID, virNetworkEventID, …).
var eventFamilies = []struct{ wire, idPrefix, goName string }{
	{"DOMAIN_EVENT_", "VIR_DOMAIN_EVENT_ID_", "Domain"},
	{"NETWORK_EVENT_", "VIR_NETWORK_EVENT_ID_", "Network"},
	{"STORAGE_POOL_EVENT_", "VIR_STORAGE_POOL_EVENT_ID_", "StoragePool"},
	{"NODE_DEVICE_EVENT_", "VIR_NODE_DEVICE_EVENT_ID_", "NodeDevice"},
	{"SECRET_EVENT_", "VIR_SECRET_EVENT_ID_", "Secret"},
}

type eventInfo struct {
	id       int64
	cID      string
	callback *procInfo // the message with a callback id
	legacy   *procInfo // the older message without one, if any
	nested   *field    // the callback message's field holding the legacy message
}

// writeEvents emits protocol/events.gen.go: for every event id of every
// family, the message procedures that carry it, and on every message
// with a callback id the methods that let the daemon send any event with
// no code of its own per event (CallbackMsg).
func writeEvents(out string, m *model, procs []*procInfo) error {
	byWire := map[string]*procInfo{}
	for _, pi := range procs {
		if pi.prog.goName == "Remote" && pi.msg {
			byWire[pi.wire] = pi
		}
	}
	w := &codeWriter{}
	for _, fam := range eventFamilies {
		var evs []*eventInfo
		for cName, v := range m.consts {
			rest, ok := strings.CutPrefix(cName, fam.idPrefix)
			if !ok || rest == "LAST" {
				continue
			}
			ev := &eventInfo{id: v, cID: cName}
			if pi := byWire[fam.wire+"CALLBACK_"+rest]; pi != nil {
				ev.callback, ev.legacy = pi, byWire[fam.wire+rest]
			} else if pi := byWire[fam.wire+rest]; pi != nil && hasCallbackID(pi.args) {
				ev.callback = pi
			}
			if ev.callback == nil {
				return fmt.Errorf("%s: no event message in the remote program", cName)
			}
			if ev.legacy != nil {
				for _, f := range ev.callback.args.fields {
					if f.t.kind == xNamed && f.t.named == ev.legacy.args {
						ev.nested = f
					}
				}
				if ev.nested == nil {
					return fmt.Errorf("%s: %s does not hold %s", cName, ev.callback.args.cName, ev.legacy.args.cName)
				}
			}
			evs = append(evs, ev)
		}
		sort.Slice(evs, func(i, j int) bool { return evs[i].id < evs[j].id })
		table := strings.ToLower(fam.goName[:1]) + fam.goName[1:] + "EventProcs"
		w.line("// %s maps each %s event id to the messages that carry it.", table, fam.goName)
		w.line("var %s = [...]EventProcs{", table)
		for _, ev := range evs {
			legacy := "0"
			if ev.legacy != nil {
				legacy = ev.legacy.goConst
			}
			w.line("\t%d: {Callback: %s, Legacy: %s}, // %s", ev.id, ev.callback.goConst, legacy, ev.cID)
		}
		w.line("}")
		w.line("")
		w.line("// %sEventProcs returns the messages of %s event id, or false", fam.goName, fam.goName)
		w.line("// for an id libvirt 9.0 does not define.")
		w.line("func %sEventProcs(id int32) (EventProcs, bool) {", fam.goName)
		w.line("\tif id < 0 || int(id) >= len(%s) {", table)
		w.line("\t\treturn EventProcs{}, false")
		w.line("\t}")
		w.line("\treturn %s[id], true", table)
		w.line("}")
		w.line("")
		w.line("// %sEventOfProc returns the %s event id procedure p carries", fam.goName, fam.goName)
		w.line("// with a callback id.")
		w.line("func %sEventOfProc(p Procedure) (int32, bool) {", fam.goName)
		w.line("switch p {")
		for _, ev := range evs {
			w.line("case %s:", ev.callback.goConst)
			w.line("\treturn %d, true", ev.id)
		}
		w.line("}")
		w.line("return 0, false")
		w.line("}")
		w.line("")
		for _, ev := range evs {
			nt := ev.callback.args
			w.line("// SetCallbackID sets the registration the event is for.")
			w.line("func (v *%s) SetCallbackID(id int32) { v.CallbackID = id }", nt.goName)
			w.line("")
			w.line("// EventCallbackID is the registration the event is for.")
			w.line("func (v *%s) EventCallbackID() int32 { return v.CallbackID }", nt.goName)
			w.line("")
			if fam.goName == "Domain" {
				path := ""
				switch {
				case fieldNamed(nt, "dom") != nil:
					path = "Dom"
				case ev.nested != nil && fieldNamed(ev.nested.t.named, "dom") != nil:
					path = ev.nested.goName + ".Dom"
				default:
					return fmt.Errorf("%s: no domain in %s", ev.cID, nt.cName)
				}
				w.line("// EventDomain is the domain the event is about.")
				w.line("func (v *%s) EventDomain() Domain { return v.%s }", nt.goName, path)
				w.line("")
			}
			w.line("// Legacy is the message sent to legacy registrations, or nil.")
			if ev.nested != nil {
				w.line("func (v *%s) Legacy() Encodable { return &v.%s }", nt.goName, ev.nested.goName)
			} else {
				w.line("func (v *%s) Legacy() Encodable { return nil }", nt.goName)
			}
			w.line("")
		}
	}
	return writeGo(filepath.Join(out, "protocol", "events.gen.go"), "protocol", nil, w.b.String())
}

func hasCallbackID(nt *namedType) bool {
	return nt != nil && len(nt.fields) > 0 && nt.fields[0].cName == "callbackID"
}

func fieldNamed(nt *namedType, c string) *field {
	for _, f := range nt.fields {
		if f.cName == c {
			return f
		}
	}
	return nil
}
