package main

import (
	"io"
	"log/slog"

	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestDriver() drivers.Driver { return testdriver.New() }
