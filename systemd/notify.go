// Package systemd connects govirtd to systemd: service state
// notifications (sd_notify: READY, RELOADING, STOPPING, STATUS, WATCHDOG)
// and socket activation (activation.go). Outside systemd (no
// $NOTIFY_SOCKET, no $LISTEN_FDS) every call is a no-op.
package systemd

import (
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd the daemon accepts clients, with a status line.
func Ready(status string) error { return notify(daemon.SdNotifyReady, status) }

// Reloading tells systemd a SIGHUP reload has started, with the
// monotonic time systemd (Type=notify-reload) matches it by; call Ready
// after.
func Reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("clock_gettime: %w", err)
	}
	usec := ts.Nano() / 1000
	return notify(daemon.SdNotifyReloading+"\nMONOTONIC_USEC="+strconv.FormatInt(usec, 10), "reloading")
}

// Status sets the status line systemctl status shows.
func Status(status string) error { return notify("STATUS="+status, "") }

// Watchdog starts the keep-alive pings systemd asks for with
// $WATCHDOG_USEC (WatchdogSec=): WATCHDOG=1 at half the interval, until
// stop is closed. It returns the interval, 0 when none is asked.
func Watchdog(stop <-chan struct{}, onError func(error)) time.Duration {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		onError(fmt.Errorf("WATCHDOG_USEC: %w", err))
		return 0
	}
	if interval <= 0 {
		return 0
	}
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
					onError(fmt.Errorf("sd_notify WATCHDOG=1: %w", err))
				}
			}
		}
	}()
	return interval
}

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
