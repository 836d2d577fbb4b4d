// Package systemd connects govirtd to systemd: the sockets systemd
// passes (socket activation, activation.go) and service state
// notifications (sd_notify). Outside systemd (no $NOTIFY_SOCKET) every
// notification is a no-op.
package systemd

import (
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Ready tells systemd the daemon accepts clients, with a status line.
func Ready(status string) error { return notify(daemon.SdNotifyReady, status) }

// Reloading tells systemd a SIGHUP reload has started, with the
// CLOCK_MONOTONIC time systemd (Type=notify-reload) wants beside it;
// call Ready when the reload is over.
func Reloading(status string) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("sd_notify RELOADING=1: read CLOCK_MONOTONIC: %w", err)
	}
	usec := ts.Nano() / int64(time.Microsecond)
	return notify(fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, usec), status)
}

// Stopping tells systemd the daemon is shutting down.
func Stopping(status string) error { return notify(daemon.SdNotifyStopping, status) }

// Status sets the line `systemctl status` shows, changing no state.
func Status(status string) error { return notify("", status) }

// Watchdog pings systemd's watchdog (WATCHDOG=1).
func Watchdog() error { return notify(daemon.SdNotifyWatchdog, "") }

// WatchdogInterval is how often to ping the watchdog: half of
// WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; 0 when systemd
// wants no pings (WATCHDOG_USEC unset, or WATCHDOG_PID another
// process's). It unsets both variables, so that no child pings.
func WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(true)
	if err != nil {
		return 0, fmt.Errorf("systemd watchdog: %w (check WatchdogSec= of govirtd.service)", err)
	}
	return d / 2, nil
}

func notify(state, status string) error {
	msg := state
	if status != "" {
		if msg != "" {
			msg += "\n"
		}
		msg += "STATUS=" + status
	}
	if _, err := daemon.SdNotify(false, msg); err != nil {
		return fmt.Errorf("sd_notify %q: %w", msg, err)
	}
	return nil
}
