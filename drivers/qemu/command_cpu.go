package qemu

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// cpuName matches the CPU model and feature names qemu knows; anything
// else could carry options after a comma.
var cpuName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// cpuFeatureValue maps a <feature policy> to the value -cpu gives the
// feature. require and force both turn it on (libvirt checks require
// against the host; TCG emulates what it can), disable and forbid off;
// optional is on when the model can have it, which qemu decides.
var cpuFeatureValue = map[string]string{"": "on", "require": "on", "force": "on", "optional": "on", "disable": "off", "forbid": "off"}

// cpu maps <cpu>: host-passthrough is the host's CPU as KVM gives it
// (-cpu host), custom a named qemu model with features turned on or
// off. host-model, which libvirt expands into the closest named model
// with the host's features, is refused: the driver has no CPU model
// database to expand it with.
func (b *builder) cpu() error {
	c := b.x.CPU
	if c == nil {
		return nil
	}
	switch c.Match {
	case "", "exact", "minimum", "strict":
	default:
		return unsupported("<cpu match='%s'>: use exact, minimum or strict", c.Match)
	}
	switch c.Check {
	case "", "none", "partial", "full":
	default:
		return unsupported("<cpu check='%s'>: use none, partial or full", c.Check)
	}
	var model string
	switch c.Mode {
	case "host-passthrough", "maximum":
		if c.Model != nil && c.Model.Value != "" {
			return unsupported("<cpu mode='%s'> takes no <model>", c.Mode)
		}
		model = "max"
		if c.Mode == "host-passthrough" {
			if b.m.accel != "kvm" {
				return unsupported("<cpu mode='host-passthrough'> needs <domain type='kvm'>: TCG has no host CPU to pass through; use mode='maximum' or a custom <model>")
			}
			model = "host"
		}
		switch c.Migratable {
		case "":
		case "on", "off":
			model += ",migratable=" + c.Migratable
		default:
			return unsupported("<cpu migratable='%s'>: use on or off", c.Migratable)
		}
	case "", "custom":
		if c.Migratable != "" {
			return unsupported("<cpu migratable> applies only to mode='host-passthrough' or 'maximum'")
		}
		if c.Model == nil || c.Model.Value == "" {
			if len(c.Features) > 0 {
				return unsupported("<cpu><feature> needs a <model> in mode='custom'")
			}
			break // only a topology
		}
		if !cpuName.MatchString(c.Model.Value) {
			return unsupported("<cpu><model>%s</model>: not a CPU model name", c.Model.Value)
		}
		switch c.Model.Fallback {
		case "", "allow", "forbid":
		default:
			return unsupported("<cpu><model fallback='%s'>: use allow or forbid", c.Model.Fallback)
		}
		model = c.Model.Value
	case "host-model":
		return unsupported("<cpu mode='host-model'> is not supported by the QEMU driver: use mode='host-passthrough' (kvm), mode='maximum', or a custom <model>")
	default:
		return unsupported("<cpu mode='%s'>: supported modes are custom, host-passthrough and maximum", c.Mode)
	}
	if model != "" {
		for i, f := range c.Features {
			v, ok := cpuFeatureValue[f.Policy]
			if !ok {
				return unsupported("<cpu><feature policy='%s'> (/domain/cpu/feature[%d]): use require, force, optional, disable or forbid", f.Policy, i+1)
			}
			if !cpuName.MatchString(f.Name) {
				return unsupported("<cpu><feature name='%s'> (/domain/cpu/feature[%d]): not a CPU feature name", f.Name, i+1)
			}
			model += "," + f.Name + "=" + v
		}
		b.c.add("-cpu", model)
	}
	return nil
}

// smp is -smp's value: the vCPU count and, from <cpu><topology>, how
// they are laid out, which must multiply up to the count.
func (b *builder) smp(n uint) (string, error) {
	v := strconv.FormatUint(uint64(n), 10)
	if b.x.CPU == nil || b.x.CPU.Topology == nil {
		return v, nil
	}
	t := b.x.CPU.Topology
	dies := max(t.Dies, 1)
	if t.Sockets <= 0 || t.Cores <= 0 || t.Threads <= 0 {
		return "", unsupported("<cpu><topology>: sockets, cores and threads must all be given and above 0")
	}
	if uint(t.Sockets*dies*t.Cores*t.Threads) != n {
		return "", unsupported("<cpu><topology sockets='%d' dies='%d' cores='%d' threads='%d'> makes %d vCPUs, but <vcpu> is %d",
			t.Sockets, dies, t.Cores, t.Threads, t.Sockets*dies*t.Cores*t.Threads, n)
	}
	return opts(v, "sockets", strconv.Itoa(t.Sockets), "dies", strconv.Itoa(dies), "cores", strconv.Itoa(t.Cores), "threads", strconv.Itoa(t.Threads)), nil
}

// watchdogDevices are qemu's watchdog devices by <watchdog model>; itco
// is the one q35's ICH9 has built in, which libvirt arms by letting it
// reboot.
var watchdogDevices = map[string]string{"i6300esb": "i6300esb", "ib700": "ib700", "itco": ""}

// watchdogActions are the <watchdog action>s qemu carries out itself.
// dump is refused: it needs the driver to write a core dump when qemu
// reports the expiry.
var watchdogActions = map[string]bool{"reset": true, "shutdown": true, "poweroff": true, "pause": true, "none": true, "inject-nmi": true}

func (b *builder) watchdogs() error {
	wds := b.devices().Watchdogs
	if len(wds) > 1 {
		return unsupported("/domain/devices/watchdog[2]: only one <watchdog> is supported")
	}
	for _, w := range wds {
		dev, ok := watchdogDevices[w.Model]
		if !ok {
			return unsupported("<watchdog model='%s'>: supported models are i6300esb, ib700 and itco (q35)", w.Model)
		}
		action := w.Action
		if action == "" {
			action = "reset"
		}
		if !watchdogActions[action] {
			return unsupported("<watchdog action='%s'>: supported actions are %s", action, strings.Join(slices.Sorted(maps.Keys(watchdogActions)), ", "))
		}
		switch {
		case w.Model == "itco" && !b.m.q35:
			return unsupported("<watchdog model='itco'> is the q35 machine's built-in watchdog; use i6300esb on pc")
		case w.Model == "itco":
			b.c.add("-global", "ICH9-LPC.noreboot=off")
		default:
			b.c.add("-device", opts(dev, append([]string{"id", "watchdog0"}, b.pciOpts(w.Address)...)...))
		}
		b.c.add("-watchdog-action", action)
	}
	return nil
}
