// Package systemd connects govirtd to systemd: service state
// notifications (sd_notify) and, later, socket activation. Outside
// systemd (no $NOTIFY_SOCKET) every call is a no-op.
package systemd

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd the daemon accepts clients, with a status line.
func Ready(status string) error { return notify(daemon.SdNotifyReady, status) }

// Reloading tells systemd a SIGHUP reload has started; call Ready after.
func Reloading() error { return notify(daemon.SdNotifyReloading, "reloading") }

// Stopping tells systemd the daemon is shutting down.
func Stopping() error { return notify(daemon.SdNotifyStopping, "stopping") }

func notify(state, status string) error {
	msg := state
	if status != "" {
		msg += "\nSTATUS=" + status
	}
	if _, err := daemon.SdNotify(false, msg); err != nil {
		return fmt.Errorf("sd_notify %s: %w", state, err)
	}
	return nil
}
