package drivers

// ConfigType is what a configuration key's value must be.
type ConfigType uint8

const (
	ConfigString  ConfigType = iota // a "quoted string"
	ConfigAbsPath                   // a "quoted string" holding an absolute path
	ConfigInt                       // an integer within [Min, Max]
)

// ConfigKey is one key of the daemon's configuration file (libvirtd.conf
// syntax) that a driver owns: the daemon reads the file, checks the
// value's type and range, and hands it to Set; an error of Set is
// reported with the file, line and key. A key left out of the file keeps
// the driver's default.
type ConfigKey struct {
	Name     string // "qemu_binary"
	Type     ConfigType
	Min, Max int64 // ConfigInt's range
	// Set receives the value: the string for ConfigString and
	// ConfigAbsPath, the integer for ConfigInt.
	SetString func(string) error
	SetInt    func(int64) error
}

// Configurable is a driver that owns keys of the daemon's configuration
// file. ConfigKeys is asked before Startup, and the setters run before
// it too; the daemon itself holds none of a driver's settings.
type Configurable interface {
	ConfigKeys() []ConfigKey
}
