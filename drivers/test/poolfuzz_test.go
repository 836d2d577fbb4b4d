package test

import (
	"errors"
	"testing"

	"github.com/govirt/govirtd/drivers"
)

// FuzzPoolXML sends arbitrary pool and volume XML through the test
// driver's parsers. They must never panic and must refuse only with a
// *drivers.Error; what they accept, written as the driver writes it,
// reads back to the same text.
//
//	go test ./drivers/test -run '^$' -fuzz '^FuzzPoolXML$' -fuzztime 30s
func FuzzPoolXML(f *testing.F) {
	f.Add(defaultPoolXML, `<volume><name>v</name><capacity unit='M'>1</capacity></volume>`)
	f.Add(scratchPoolXML, `<volume type='block'><name>v</name><capacity>5</capacity><allocation unit='KB'>1</allocation>
<target><format type='qcow2'/><permissions><mode>0644</mode><owner>0</owner><label>x</label></permissions></target></volume>`)
	f.Add(`<pool type='netfs'><name>n</name><source><host name='h' port='1'/><dir path='/e'/><format type='nfs'/><protocol ver='3'/>
<vendor name='v'/><product name='p'/></source><target><path>/m</path><permissions><mode>700</mode></permissions></target></pool>`, `<volume/>`)
	f.Add(`<pool type='fs'><name>f</name><source><device path='/dev/a' part_separator='yes'/></source><target><path>//m/</path></target></pool>`, `<volume><name>v</name><capacity unit='E'>8</capacity></volume>`)
	typed := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.As(err, new(*drivers.Error)) {
			t.Fatalf("%s error %v (%T) is not a *drivers.Error", what, err, err)
		}
	}
	f.Fuzz(func(t *testing.T, poolDoc, volDoc string) {
		if def, err := parsePoolXML(poolDoc); err != nil {
			typed(t, "pool", err)
		} else {
			out, err := formatPool(def, 1, 2, 3)
			if err != nil {
				t.Fatalf("formatting accepted pool: %v", err)
			}
			again, err := parsePoolXML(out)
			if err != nil {
				t.Fatalf("the pool's own XML is refused: %v\n%s", err, out)
			}
			if out2, _ := formatPool(again, 1, 2, 3); out2 != out {
				t.Fatalf("pool XML changed on a round trip:\n%s\nthen:\n%s", out, out2)
			}
		}
		if v, err := parseVolXML(volDoc); err != nil {
			typed(t, "volume", err)
		} else {
			v.path, v.key = "/p/"+v.name, "/p/"+v.name
			out, err := formatVol(v)
			if err != nil {
				t.Fatalf("formatting accepted volume: %v", err)
			}
			again, err := parseVolXML(out)
			if err != nil {
				t.Fatalf("the volume's own XML is refused: %v\n%s", err, out)
			}
			again.path, again.key = v.path, v.key
			if out2, _ := formatVol(again); out2 != out {
				t.Fatalf("volume XML changed on a round trip:\n%s\nthen:\n%s", out, out2)
			}
		}
	})
}
