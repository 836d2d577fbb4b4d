package qemu

import (
	"fmt"
	"reflect"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// supported lists every element and attribute of a domain definition the
// QEMU driver turns into something qemu does (or, like <name> or
// <metadata>, keeps). Anything else that is set is refused by
// checkSupported, so nothing in a definition is silently dropped.
//
// Keys are element paths below <domain>; "@x" is attribute x. A choice
// libvirtxml models as a union (a disk's <source> of type file, block,
// ...) appears as a pseudo element named after the choice ("source/file").
// The values an allowed attribute may take are checked where the argv is
// built. A key ending in "/*" allows the element with everything in it.
var supported = setOf(
	"@type", "@id", "name", "uuid", "title", "description", "metadata/*",
	"memory", "memory@unit", "currentMemory", "currentMemory@unit",
	"vcpu", "vcpu@placement", "vcpu@current",
	"os", "os/type", "os/type@arch", "os/type@machine", "os/kernel", "os/initrd", "os/cmdline",
	"os/boot", "os/boot@dev",
	"features", "features/acpi", "features/apic", "features/pae", "features/vmport", "features/vmport@state",
	"cpu", "cpu@mode", "cpu@match", "cpu@check", "cpu@migratable", "cpu/model", "cpu/model@fallback",
	"cpu/feature", "cpu/feature@policy", "cpu/feature@name",
	"cpu/topology", "cpu/topology@sockets", "cpu/topology@dies", "cpu/topology@cores", "cpu/topology@threads",
	"clock", "clock@offset", "clock/timer", "clock/timer@name", "clock/timer@tickpolicy", "clock/timer@present",
	"pm", "pm/suspend-to-mem", "pm/suspend-to-mem@enabled", "pm/suspend-to-disk", "pm/suspend-to-disk@enabled",
	"on_poweroff", "on_reboot", "on_crash",

	"devices", "devices/emulator",

	"devices/disk", "devices/disk@device",
	"devices/disk/driver", "devices/disk/driver@name", "devices/disk/driver@type", "devices/disk/driver@discard",
	"devices/disk/driver@cache", "devices/disk/driver@io",
	"devices/disk/source", "devices/disk/source/file", "devices/disk/source/file@file",
	"devices/disk/target", "devices/disk/target@dev", "devices/disk/target@bus",
	"devices/disk/readonly", "devices/disk/boot", "devices/disk/boot@order",

	"devices/interface", "devices/interface/mac", "devices/interface/mac@address",
	"devices/interface/source", "devices/interface/source/user",
	"devices/interface/source/network", "devices/interface/source/network@network", "devices/interface/source/network@bridge",
	"devices/interface/source/bridge", "devices/interface/source/bridge@bridge",
	"devices/interface/target", "devices/interface/target@dev", "devices/interface/mtu", "devices/interface/mtu@size",
	"devices/interface/link", "devices/interface/link@state", "devices/interface/alias", "devices/interface/alias@name",
	"devices/interface/model", "devices/interface/model@type",
	"devices/interface/boot", "devices/interface/boot@order",

	"devices/serial", "devices/serial/source", "devices/serial/source/pty", "devices/serial/source/pty@path",
	"devices/serial/source/file", "devices/serial/source/file@path", "devices/serial/source/file@append",
	"devices/serial/target", "devices/serial/target@type", "devices/serial/target@port",
	"devices/serial/target/model", "devices/serial/target/model@name",

	"devices/console", "devices/console@tty", "devices/console/source", "devices/console/source/pty",
	"devices/console/source/pty@path", "devices/console/source/file", "devices/console/source/file@path",
	"devices/console/source/file@append",
	"devices/console/target", "devices/console/target@type", "devices/console/target@port",

	"devices/graphics", "devices/graphics/vnc", "devices/graphics/vnc@port",
	"devices/graphics/vnc@autoport", "devices/graphics/vnc@listen",
	"devices/graphics/vnc/listen", "devices/graphics/vnc/listen/address",
	"devices/graphics/vnc/listen/address@address",

	"devices/graphics/spice", "devices/graphics/spice@port", "devices/graphics/spice@tlsPort",
	"devices/graphics/spice@autoport", "devices/graphics/spice@listen",
	"devices/graphics/spice/listen", "devices/graphics/spice/listen/address",
	"devices/graphics/spice/listen/address@address",
	"devices/graphics/spice/image", "devices/graphics/spice/image@compression",

	"devices/video", "devices/video/model", "devices/video/model@type", "devices/video/model@heads",
	"devices/video/model@primary", "devices/video/model@vram", "devices/video/model@ram", "devices/video/model@vgamem",
	"devices/memballoon", "devices/memballoon@model", "devices/memballoon/stats", "devices/memballoon/stats@period",
	"devices/sound", "devices/sound@model", "devices/sound/audio", "devices/sound/audio@id",
	"devices/audio", "devices/audio@id", "devices/audio/none", "devices/audio/spice",
	"devices/redirdev", "devices/redirdev@bus", "devices/redirdev/source", "devices/redirdev/source/spicevmc",
	"devices/watchdog", "devices/watchdog@model", "devices/watchdog@action",
	"devices/input", "devices/input@type", "devices/input@bus", "devices/input/source",
	"devices/controller", "devices/controller@type", "devices/controller@index", "devices/controller@model",
	"devices/controller/pci", "devices/controller/usb", "devices/controller/usb/master", "devices/controller/usb/master@startport",
	"devices/controller/usb@ports", "devices/controller/virtioserial",
	"devices/controller/pci/model", "devices/controller/pci/model@name",
	"devices/controller/pci/target", "devices/controller/pci/target/chassis", "devices/controller/pci/target/port",

	"devices/channel", "devices/channel/source", "devices/channel/source/unix", "devices/channel/source/spicevmc",
	"devices/channel/source/unix@mode", "devices/channel/source/unix@path",
	"devices/channel/target", "devices/channel/target/virtio", "devices/channel/target/virtio@name",
	"devices/channel/target/virtio@state",

	// Drive addresses (assignDriveAddresses); PCI addresses are added
	// below for every device that has one (pciaddr.go).
	"devices/disk/address/drive", "devices/disk/address/drive@controller", "devices/disk/address/drive@bus",
	"devices/disk/address/drive@target", "devices/disk/address/drive@unit",

	// Addresses on the virtio-serial and USB buses (assignDeviceAddresses).
	"devices/channel/address", "devices/channel/address/virtioserial", "devices/channel/address/virtioserial@controller",
	"devices/channel/address/virtioserial@bus", "devices/channel/address/virtioserial@port",
	"devices/input/address", "devices/input/address/usb", "devices/input/address/usb@bus", "devices/input/address/usb@port",
	"devices/redirdev/address", "devices/redirdev/address/usb", "devices/redirdev/address/usb@bus", "devices/redirdev/address/usb@port",

	// What a running guest's definition records (setDeviceAliases); a
	// definition drops them (prepareDefinition), as libvirt does.
	"devices/disk/alias", "devices/disk/alias@name", "devices/controller/alias", "devices/controller/alias@name",
	"devices/serial/alias", "devices/serial/alias@name", "devices/console/alias", "devices/console/alias@name",
	"devices/channel/alias", "devices/channel/alias@name", "devices/input/alias", "devices/input/alias@name",
	"devices/sound/alias", "devices/sound/alias@name", "devices/video/alias", "devices/video/alias@name",
	"devices/redirdev/alias", "devices/redirdev/alias@name", "devices/watchdog/alias", "devices/watchdog/alias@name",
	"devices/rng/alias", "devices/rng/alias@name", "devices/memballoon/alias", "devices/memballoon/alias@name",
	"devices/rng", "devices/rng@model", "devices/rng/backend", "devices/rng/backend/random",
)

// pciAddressed are the devices that may carry <address type='pci'>.
var pciAddressed = []string{"disk", "interface", "controller", "sound", "video", "watchdog", "memballoon", "rng", "input"}

func init() {
	for _, dev := range pciAddressed {
		base := "devices/" + dev + "/address"
		supported[base] = true
		supported[base+"/pci"] = true
		for _, attr := range []string{"domain", "bus", "slot", "function", "multifunction"} {
			supported[base+"/pci@"+attr] = true
		}
	}
}

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func unsupported(format string, args ...any) error {
	return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, format, args...)
}

// checkSupported walks a definition and refuses the first element or
// attribute that is set but not in supported, naming it by its place in
// the XML (/domain/devices/disk[2]/driver/@cache).
func checkSupported(x *libvirtxml.Domain) error {
	return walk(reflect.ValueOf(x).Elem(), "", "/domain")
}

// walk checks the set fields of struct v, whose element is key (for the
// table) at xpath (for the message).
func walk(v reflect.Value, key, xpath string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		name, kind := xmlName(f)
		if kind == skipField || !f.IsExported() || fv.IsZero() {
			continue
		}
		childKey := strings.TrimPrefix(key+"/"+name, "/")
		switch kind {
		case attrField:
			if !supported[key+"@"+name] {
				return unsupported("%s/@%s is not supported by the QEMU driver", xpath, name)
			}
			continue
		case unionField:
			// The choice is the type of the element itself, not a child.
			if !supported[childKey] {
				return unsupported("<%s> of type '%s' (%s) is not supported by the QEMU driver", lastName(key), name, xpath)
			}
			if err := walkElement(fv, childKey, xpath); err != nil {
				return err
			}
			continue
		}
		if err := walkElement(fv, childKey, xpath+"/"+name); err != nil {
			return err
		}
	}
	return nil
}

// walkElement checks one child element (or a slice of them).
func walkElement(v reflect.Value, key, xpath string) error {
	if supported[key+"/*"] {
		return nil
	}
	if !supported[key] {
		return unsupported("<%s> (%s) is not supported by the QEMU driver", lastName(key), xpath)
	}
	switch v.Kind() {
	case reflect.Pointer:
		return walkElement(v.Elem(), key, xpath)
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := walkElement(v.Index(i), key, fmt.Sprintf("%s[%d]", xpath, i+1)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		return walk(v, key, xpath)
	}
	return nil
}

func lastName(key string) string { return key[strings.LastIndex(key, "/")+1:] }

// fieldKind is how a struct field appears in the XML.
type fieldKind int

const (
	elementField fieldKind = iota
	attrField
	unionField // one choice of a union, named after the Go field
	skipField  // XMLName, and an element's text (what the element means)
)

// xmlName reads a field's XML name and kind from its tag.
func xmlName(f reflect.StructField) (string, fieldKind) {
	if f.Name == "XMLName" {
		return "", skipField
	}
	tag, ok := f.Tag.Lookup("xml")
	if tag == "-" {
		return strings.ToLower(f.Name), unionField
	}
	if !ok {
		return strings.ToLower(f.Name), elementField
	}
	parts := strings.Split(tag, ",")
	kind := elementField
	for _, p := range parts[1:] {
		switch p {
		case "attr":
			kind = attrField
		case "chardata", "innerxml":
			kind = skipField
		}
	}
	name := parts[0]
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, kind
}
