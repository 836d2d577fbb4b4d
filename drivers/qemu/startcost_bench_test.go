package qemu

import (
	"testing"

	"github.com/govirt/govirtd/drivers/domxml"
)

const benchGuestXML = `<domain type='qemu'><name>b</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`

func BenchmarkStartParse(b *testing.B) {
	for b.Loop() {
		if _, err := domxml.Parse(benchGuestXML); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartPrepareValidate(b *testing.B) {
	def, _ := domxml.Parse(benchGuestXML)
	for b.Loop() {
		d := def.Copy()
		prepareDefinition(d, randomMAC)
		if err := validate(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartCopy(b *testing.B) {
	def, _ := domxml.Parse(benchGuestXML)
	prepareDefinition(def, randomMAC)
	for b.Loop() {
		def.Copy()
	}
}

func BenchmarkStartBuildCommand(b *testing.B) {
	def, _ := domxml.Parse(benchGuestXML)
	prepareDefinition(def, randomMAC)
	for b.Loop() {
		if _, err := buildCommand(def, launch{emulator: "qemu", monitorFD: 3}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartStatusData(b *testing.B) {
	def, _ := domxml.Parse(benchGuestXML)
	prepareDefinition(def, randomMAC)
	dom := newDomain(def)
	inst := &instance{pid: 1, monitorPath: "/run/x.monitor", logPath: "/var/log/x.log", accel: "tcg"}
	for b.Loop() {
		if _, err := statusData(dom, inst, def, 1, 1, 1); err != nil {
			b.Fatal(err)
		}
	}
}
