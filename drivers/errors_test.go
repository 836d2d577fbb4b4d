package drivers_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/vir"
)

// TestErrorKeepsCause: an Error made with %w keeps its cause, so errno
// and fs.ErrNotExist survive the driver API's typed error, while the
// message and code clients see are those of %v.
func TestErrorKeepsCause(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.xml")
	_, cause := os.ReadFile(missing)
	err := error(drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot read %s: %w", "the definition", cause))
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("errors.Is(%v, fs.ErrNotExist/ENOENT) is false: the cause was lost", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != missing {
		t.Fatalf("errors.As(%v, *fs.PathError) = %v, want the path %s", err, pe, missing)
	}
	if want := "operation failed: cannot read the definition: " + cause.Error(); err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if drivers.CodeOf(err) != vir.ErrOperationFailed {
		t.Fatalf("code %d, want VIR_ERR_OPERATION_FAILED", drivers.CodeOf(err))
	}
	if errors.Unwrap(drivers.Errorf(vir.ErrNoDomain, vir.FromTest, "no domain %s", "x")) != nil {
		t.Fatal("an Error made without %w has a cause")
	}

	// Through a driver: the test driver restoring from a missing file.
	drv := testdriver.New()
	u, _ := parseURL("test:///default")
	c, err := drv.Open(context.Background(), u, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.(drivers.DomainSaver).DomainRestore(context.Background(), missing, "", 0)
	if !errors.Is(err, fs.ErrNotExist) || drivers.CodeOf(err) != vir.ErrOperationFailed {
		t.Fatalf("restore from a missing file: %v; want VIR_ERR_OPERATION_FAILED wrapping fs.ErrNotExist", err)
	}
}
