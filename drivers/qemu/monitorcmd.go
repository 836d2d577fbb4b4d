package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// virsh qemu-monitor-command: a command of the client's own sent to a
// running guest's qemu, as libvirt's qemu program serves it
// (QEMU_PROC_DOMAIN_MONITOR_COMMAND). The command is qemu's business:
// the driver checks only that it is one QMP command, and what qemu does
// with it (a "stop", a device removed) reaches the driver as qemu's
// events, as any change qemu makes does.

// monitorCmdFlags are the flags of virDomainQemuMonitorCommand.
const monitorCmdFlags = vir.DomainQEMUMonitorCommandHmp

// QemuDomainMonitorCommand sends cmd to the running domain's monitor
// and answers qemu's reply. cmd is a QMP command as JSON ({"execute":
// …, "arguments": …}); the answer is qemu's reply object, compacted,
// {"return": …} or {"error": {"class": …, "desc": …}}: an error of qemu
// is the answer, not a failure of the call, as with libvirt. The reply
// has no "id": the driver's ids on its monitor are its own. With the
// HMP flag cmd is a human monitor command line, run through QMP's
// human-monitor-command, and the answer is its text output; qemu's
// refusal there fails the call (drivers.OpQemuDomainMonitorCommand).
func (c *conn) QemuDomainMonitorCommand(ctx context.Context, ref protocol.Domain, cmd string, flags uint32) (string, error) {
	if err := badFlags("virDomainQemuMonitorCommand", flags, monitorCmdFlags); err != nil {
		return "", err
	}
	hmp := flags&uint32(vir.DomainQEMUMonitorCommandHmp) != 0
	var qcmd string
	var args any
	if hmp {
		qcmd, args = "human-monitor-command", map[string]string{"command-line": cmd}
	} else {
		var err error
		if qcmd, args, err = parseQMPCommand(cmd); err != nil {
			return "", err
		}
	}
	var out string
	err := c.drv.withJob(ctx, drivers.Domain(ref), "virDomainQemuMonitorCommand", func(ctx context.Context, dom *domain) error {
		inst, err := runningInst(dom)
		if err != nil {
			return err
		}
		var ret json.RawMessage
		err = inst.mon.Execute(ctx, qcmd, args, &ret)
		var qerr *qmp.Error
		switch {
		case hmp && err == nil:
			if err := json.Unmarshal(ret, &out); err != nil {
				return monitorErr(dom, fmt.Errorf("human-monitor-command answered %s, not a string", ret))
			}
		case hmp && errors.As(err, &qerr):
			return drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "unable to execute QEMU command 'human-monitor-command': %s", qerr.Desc)
		case errors.As(err, &qerr):
			reply, _ := json.Marshal(map[string]map[string]string{"error": {"class": qerr.Class, "desc": qerr.Desc}})
			out = string(reply)
		case err != nil:
			return monitorErr(dom, err)
		default:
			var b bytes.Buffer
			if len(ret) == 0 {
				ret = json.RawMessage("{}")
			}
			if err := json.Compact(&b, ret); err != nil {
				return monitorErr(dom, fmt.Errorf("%s: qemu's reply is no JSON: %w", qcmd, err))
			}
			out = `{"return":` + b.String() + `}`
		}
		return nil
	})
	return out, err
}

// parseQMPCommand checks that cmd is one QMP command object and returns
// its name and its arguments (nil when it has none).
func parseQMPCommand(cmd string) (string, any, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(cmd), &obj); err != nil {
		return "", nil, drivers.Errorf(vir.ErrInternalError, vir.FromQEMU,
			"cannot parse json %s: %v (a QMP command is an object such as {\"execute\":\"query-status\"}; use --hmp for a human monitor command)", cmd, err)
	}
	var name string
	if err := json.Unmarshal(obj["execute"], &name); err != nil || name == "" {
		return "", nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the QMP command %s has no \"execute\" member naming the command", cmd)
	}
	for k := range obj {
		if k != "execute" && k != "arguments" {
			return "", nil, drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromQEMU,
				"the QMP command's member %q is not served: only \"execute\" and \"arguments\" are (the driver sets the command's id itself)", k)
		}
	}
	// The arguments go to qemu as written: qemu judges them, and its
	// refusal is the answer, as with libvirt.
	if raw, ok := obj["arguments"]; ok {
		return name, raw, nil
	}
	return name, nil, nil
}
