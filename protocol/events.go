package protocol

// Event registration and event messages.

type ConnectDomainEventCallbackRegisterAnyArgs struct {
	EventID int32
	Dom     *Domain
}

type ConnectDomainEventCallbackRegisterAnyRet struct{ CallbackID int32 }

type ConnectDomainEventCallbackDeregisterAnyArgs struct{ CallbackID int32 }

// ConnectDomainEventRegisterAnyArgs is also the argument of the legacy
// DEREGISTER_ANY.
type ConnectDomainEventRegisterAnyArgs struct{ EventID int32 }

// ConnectDomainEventRegisterRet is the return of the legacy REGISTER and
// DEREGISTER.
type ConnectDomainEventRegisterRet struct{ CbRegistered int32 }

// DomainEventLifecycleMsg is the body of the legacy DOMAIN_EVENT_LIFECYCLE
// message (107).
type DomainEventLifecycleMsg struct {
	Dom    Domain
	Event  int32
	Detail int32
}

// DomainEventCallbackLifecycleMsg is the body of DOMAIN_EVENT_CALLBACK_LIFECYCLE (318).
type DomainEventCallbackLifecycleMsg struct {
	CallbackID int32
	Msg        DomainEventLifecycleMsg
}

// DomainEventRebootMsg is the body of the legacy DOMAIN_EVENT_REBOOT.
type DomainEventRebootMsg struct{ Dom Domain }

// DomainEventCallbackRebootMsg is the body of DOMAIN_EVENT_CALLBACK_REBOOT (319).
type DomainEventCallbackRebootMsg struct {
	CallbackID int32
	Msg        DomainEventRebootMsg
}

// ConnectEventConnectionClosedMsg is the body of CONNECT_EVENT_CONNECTION_CLOSED (362).
type ConnectEventConnectionClosedMsg struct{ Reason int32 }
