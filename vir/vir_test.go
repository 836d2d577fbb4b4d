package vir

import "testing"

// The values below were read off libvirt 9.0's headers by hand, not taken
// from the generator: they check its parsing, evaluation and naming
// against the C.

func TestEnumValues(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"VIR_DOMAIN_RUNNING", int64(DomainRunning), 1},
		{"VIR_DOMAIN_PMSUSPENDED", int64(DomainPmsuspended), 7},
		{"VIR_DOMAIN_SHUTOFF_DESTROYED", int64(DomainShutoffDestroyed), 2},
		{"VIR_DOMAIN_START_RESET_NVRAM (1 << 5)", int64(DomainStartResetNvram), 32},
		{"VIR_DOMAIN_UNDEFINE_NVRAM ((1 << 2))", int64(DomainUndefineNvram), 4},
		{"VIR_DOMAIN_AFFECT_CONFIG", int64(DomainAffectConfig), 2},
		{"VIR_CONNECT_LIST_DOMAINS_ACTIVE", int64(ConnectListDomainsActive), 1},
		{"VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE (1U << 31)", int64(ConnectListNodeDevicesActive), 1 << 31},
		{"VIR_DOMAIN_EVENT_STARTED", int64(DomainEventStarted), 2},
		{"VIR_DOMAIN_EVENT_STOPPED", int64(DomainEventStopped), 5},
		{"VIR_DOMAIN_EVENT_ID_LIFECYCLE", int64(DomainEventIDLifecycle), 0},
		{"VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE", int64(DomainEventIDMemoryDeviceSizeChange), 26},
		{"VIR_VCPU_INFO_CPU_OFFLINE", int64(VcpuInfoCPUOffline), -1},
		{"VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK (= VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK)", int64(DomainQEMUAgentCommandBlock), -2},
		{"VIR_KEYCODE_SET_RFB (#define of VIR_KEYCODE_SET_QNUM)", int64(KeycodeSetRfb), 9},
		{"VIR_ERR_OK", int64(ErrOk), 0},
		{"VIR_ERR_INTERNAL_ERROR", int64(ErrInternalError), 1},
		{"VIR_ERR_NO_SUPPORT", int64(ErrNoSupport), 3},
		{"VIR_ERR_OPERATION_DENIED", int64(ErrOperationDenied), 29},
		{"VIR_ERR_RPC", int64(ErrRPC), 39},
		{"VIR_ERR_NO_DOMAIN", int64(ErrNoDomain), 42},
		{"VIR_ERR_OPERATION_INVALID", int64(ErrOperationInvalid), 55},
		{"VIR_ERR_WARNING", int64(ErrWarning), 1},
		{"VIR_FROM_RPC", int64(FromRPC), 7},
		{"VIR_FROM_QEMU", int64(FromQEMU), 10},
		{"VIR_FROM_REMOTE", int64(FromRemote), 13},
		{"VIR_FROM_DOMAIN", int64(FromDomain), 20},
		{"VIR_TYPED_PARAM_STRING", int64(TypedParamString), 7},
		{"VIR_TYPED_PARAM_STRING_OKAY", int64(TypedParamStringOkay), 4},
		{"VIR_CONNECT_CLOSE_REASON_KEEPALIVE", int64(ConnectCloseReasonKeepalive), 2},
		{"VIR_UUID_BUFLEN", UUIDBuflen, 16},
		{"VIR_UUID_STRING_BUFLEN (36+1)", UUIDStringBuflen, 37},
		{"VIR_SECURITY_LABEL_BUFLEN (4096 + 1)", SecurityLabelBuflen, 4097},
		{"VIR_DOMAIN_MEMORY_PARAM_UNLIMITED", DomainMemoryParamUnlimited, 9007199254740991},
		{"VIR_TYPED_PARAM_FIELD_LENGTH", TypedParamFieldLength, 80},
		{"VIR_DOMAIN_SCHED_FIELD_LENGTH (= VIR_TYPED_PARAM_FIELD_LENGTH)", DomainSchedFieldLength, 80},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestStringMacros(t *testing.T) {
	for got, want := range map[string]string{
		DomainSchedulerCPUShares:      "cpu_shares",
		DomainBlockStatsReadBytes:     "rd_bytes",
		MigrateParamURI:               "migrate_uri",
		DomainSaveParamFile:           "file",
		ConnectIdentityUnixUserID:     "unix-user-id",
		DomainJobOperationParam:       "operation",
		DomainTunableCPUVcpupin:       "cputune.vcpupin%u",
		DomainBandwidthInAverage:      "inbound.average",
		MigrateParamBandwidthPostcopy: "bandwidth.postcopy",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestStringMethods(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{DomainRunning.String(), "VIR_DOMAIN_RUNNING"},
		{DomainEventStopped.String(), "VIR_DOMAIN_EVENT_STOPPED"},
		{DomainEventIDLifecycle.String(), "VIR_DOMAIN_EVENT_ID_LIFECYCLE"},
		{ErrNoSupport.String(), "VIR_ERR_NO_SUPPORT"},
		{FromRPC.String(), "VIR_FROM_RPC"},
		{DomainState(99).String(), "DomainState(99)"},
		{ErrorNumber(-5).String(), "ErrorNumber(-5)"},
	} {
		if c.got != c.want {
			t.Errorf("String() = %q, want %q", c.got, c.want)
		}
	}
}
