package qemu

import (
	"encoding/json"
	"strconv"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Events qemu raises for what the guest's drivers do: the balloon
// driver reaching a new size (BALLOON_CHANGE) and a program in the
// guest opening or closing a virtio-serial port (VSERPORT_CHANGE),
// which for the qemu guest agent's port is the agent connecting or
// going away. The handlers run on the monitor's reading goroutine with
// the domain's mu held (onEvent).

// guestAgentPort is the name of the qemu guest agent's virtio-serial
// port.
const guestAgentPort = "org.qemu.guest_agent.0"

// onBalloonChange raises BALLOON_CHANGE with the balloon's new size in
// KiB (qemu reports bytes). The live definition's <currentMemory> is
// left as it is: a copy swapped in from here would race the hotplug
// code's own swap of the live definition.
func (d *Driver) onBalloonChange(dom *domain, inst *instance, data json.RawMessage) {
	var ev struct {
		Actual uint64 `json:"actual"`
	}
	if json.Unmarshal(data, &ev) != nil || dom.proc != inst {
		return
	}
	ref := dom.ref()
	d.events.Emit(drivers.WireEvent{ID: vir.DomainEventIDBalloonChange, Dom: ref, Msg: func() protocol.CallbackMsg {
		return &protocol.DomainEventCallbackBalloonChangeMsg{Msg: protocol.DomainEventBalloonChangeMsg{Dom: ref, Actual: ev.Actual / 1024}}
	}})
}

// onVserportChange raises AGENT_LIFECYCLE (reason: the channel) when the
// guest opens (the agent connected) or closes (disconnected) the port of
// a channel named org.qemu.guest_agent.0; qemu names the port by its
// device id, channelN for the Nth channel (command_channels.go).
func (d *Driver) onVserportChange(dom *domain, inst *instance, data json.RawMessage) {
	var ev struct {
		ID   string `json:"id"`
		Open bool   `json:"open"`
	}
	if json.Unmarshal(data, &ev) != nil || dom.proc != inst || dom.live == nil || dom.live.XML.Devices == nil {
		return
	}
	agent := false
	for i, ch := range dom.live.XML.Devices.Channels {
		if channelDeviceID(i) == ev.ID && ch.Target != nil && ch.Target.VirtIO != nil && ch.Target.VirtIO.Name == guestAgentPort {
			agent = true
		}
	}
	if !agent {
		return
	}
	state := vir.ConnectDomainEventAgentLifecycleStateDisconnected
	if ev.Open {
		state = vir.ConnectDomainEventAgentLifecycleStateConnected
	}
	ref := dom.ref()
	d.events.Emit(drivers.WireEvent{ID: vir.DomainEventIDAgentLifecycle, Dom: ref, Msg: func() protocol.CallbackMsg {
		return &protocol.DomainEventCallbackAgentLifecycleMsg{Dom: ref, State: int32(state), Reason: int32(vir.ConnectDomainEventAgentLifecycleReasonChannel)}
	}})
}

// channelDeviceID is qemu's device id of the Nth <channel>'s port.
func channelDeviceID(i int) string { return "channel" + strconv.Itoa(i) }
