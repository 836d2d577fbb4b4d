package protocol

import "fmt"

// Procedure is a procedure number of the remote program (remote_procedure).
type Procedure int32

// Procedures of the remote program that govirtd knows by name. Numbers are
// libvirt 9.0's; a number not listed here is answered "unknown procedure".
const (
	ProcConnectOpen                             Procedure = 1
	ProcConnectClose                            Procedure = 2
	ProcConnectGetType                          Procedure = 3
	ProcConnectGetVersion                       Procedure = 4
	ProcNodeGetInfo                             Procedure = 6
	ProcConnectGetCapabilities                  Procedure = 7
	ProcDomainCreate                            Procedure = 9
	ProcDomainCreateXML                         Procedure = 10
	ProcDomainDefineXML                         Procedure = 11
	ProcDomainDestroy                           Procedure = 12
	ProcDomainGetXMLDesc                        Procedure = 14
	ProcDomainGetAutostart                      Procedure = 15
	ProcDomainGetInfo                           Procedure = 16
	ProcDomainGetOSType                         Procedure = 19
	ProcConnectListDefinedDomains               Procedure = 21
	ProcDomainLookupByID                        Procedure = 22
	ProcDomainLookupByName                      Procedure = 23
	ProcDomainLookupByUUID                      Procedure = 24
	ProcConnectNumOfDefinedDomains              Procedure = 25
	ProcDomainReboot                            Procedure = 27
	ProcDomainResume                            Procedure = 28
	ProcDomainSetAutostart                      Procedure = 29
	ProcDomainShutdown                          Procedure = 33
	ProcDomainSuspend                           Procedure = 34
	ProcDomainUndefine                          Procedure = 35
	ProcConnectListDomains                      Procedure = 37
	ProcConnectNumOfDomains                     Procedure = 51
	ProcDomainRestore                           Procedure = 54
	ProcDomainSave                              Procedure = 55
	ProcConnectGetHostname                      Procedure = 59
	ProcConnectSupportsFeature                  Procedure = 60
	ProcAuthList                                Procedure = 66
	ProcConnectDomainEventRegister              Procedure = 105
	ProcConnectDomainEventDeregister            Procedure = 106
	ProcDomainEventLifecycle                    Procedure = 107
	ProcConnectGetURI                           Procedure = 110
	ProcDomainGetSecurityLabel                  Procedure = 121
	ProcNodeGetSecurityModel                    Procedure = 122
	ProcDomainIsActive                          Procedure = 150
	ProcDomainIsPersistent                      Procedure = 151
	ProcConnectGetLibVersion                    Procedure = 157
	ProcConnectDomainEventRegisterAny           Procedure = 167
	ProcConnectDomainEventDeregisterAny         Procedure = 168
	ProcDomainEventReboot                       Procedure = 169
	ProcDomainHasManagedSaveImage               Procedure = 183
	ProcDomainSnapshotNum                       Procedure = 187
	ProcDomainCreateWithFlags                   Procedure = 196
	ProcDomainGetState                          Procedure = 212
	ProcDomainUndefineFlags                     Procedure = 231
	ProcDomainSaveFlags                         Procedure = 232
	ProcDomainRestoreFlags                      Procedure = 233
	ProcDomainDestroyFlags                      Procedure = 234
	ProcDomainShutdownFlags                     Procedure = 258
	ProcConnectListAllDomains                   Procedure = 273
	ProcConnectListAllNetworks                  Procedure = 283
	ProcConnectDomainEventCallbackRegisterAny   Procedure = 316
	ProcConnectDomainEventCallbackDeregisterAny Procedure = 317
	ProcDomainEventCallbackLifecycle            Procedure = 318
	ProcDomainEventCallbackReboot               Procedure = 319
	ProcDomainDefineXMLFlags                    Procedure = 350
	ProcConnectRegisterCloseCallback            Procedure = 360
	ProcConnectUnregisterCloseCallback          Procedure = 361
	ProcConnectEventConnectionClosed            Procedure = 362
	ProcDomainGetMessages                       Procedure = 426
)

var procNames = map[Procedure]string{
	ProcConnectOpen:                             "CONNECT_OPEN",
	ProcConnectClose:                            "CONNECT_CLOSE",
	ProcConnectGetType:                          "CONNECT_GET_TYPE",
	ProcConnectGetVersion:                       "CONNECT_GET_VERSION",
	ProcNodeGetInfo:                             "NODE_GET_INFO",
	ProcConnectGetCapabilities:                  "CONNECT_GET_CAPABILITIES",
	ProcDomainCreate:                            "DOMAIN_CREATE",
	ProcDomainCreateXML:                         "DOMAIN_CREATE_XML",
	ProcDomainDefineXML:                         "DOMAIN_DEFINE_XML",
	ProcDomainDestroy:                           "DOMAIN_DESTROY",
	ProcDomainGetXMLDesc:                        "DOMAIN_GET_XML_DESC",
	ProcDomainGetAutostart:                      "DOMAIN_GET_AUTOSTART",
	ProcDomainGetInfo:                           "DOMAIN_GET_INFO",
	ProcDomainGetOSType:                         "DOMAIN_GET_OS_TYPE",
	ProcConnectListDefinedDomains:               "CONNECT_LIST_DEFINED_DOMAINS",
	ProcDomainLookupByID:                        "DOMAIN_LOOKUP_BY_ID",
	ProcDomainLookupByName:                      "DOMAIN_LOOKUP_BY_NAME",
	ProcDomainLookupByUUID:                      "DOMAIN_LOOKUP_BY_UUID",
	ProcConnectNumOfDefinedDomains:              "CONNECT_NUM_OF_DEFINED_DOMAINS",
	ProcDomainReboot:                            "DOMAIN_REBOOT",
	ProcDomainResume:                            "DOMAIN_RESUME",
	ProcDomainSetAutostart:                      "DOMAIN_SET_AUTOSTART",
	ProcDomainShutdown:                          "DOMAIN_SHUTDOWN",
	ProcDomainSuspend:                           "DOMAIN_SUSPEND",
	ProcDomainUndefine:                          "DOMAIN_UNDEFINE",
	ProcConnectListDomains:                      "CONNECT_LIST_DOMAINS",
	ProcConnectNumOfDomains:                     "CONNECT_NUM_OF_DOMAINS",
	ProcDomainRestore:                           "DOMAIN_RESTORE",
	ProcDomainSave:                              "DOMAIN_SAVE",
	ProcConnectGetHostname:                      "CONNECT_GET_HOSTNAME",
	ProcConnectSupportsFeature:                  "CONNECT_SUPPORTS_FEATURE",
	ProcAuthList:                                "AUTH_LIST",
	ProcConnectDomainEventRegister:              "CONNECT_DOMAIN_EVENT_REGISTER",
	ProcConnectDomainEventDeregister:            "CONNECT_DOMAIN_EVENT_DEREGISTER",
	ProcDomainEventLifecycle:                    "DOMAIN_EVENT_LIFECYCLE",
	ProcConnectGetURI:                           "CONNECT_GET_URI",
	ProcDomainGetSecurityLabel:                  "DOMAIN_GET_SECURITY_LABEL",
	ProcNodeGetSecurityModel:                    "NODE_GET_SECURITY_MODEL",
	ProcDomainIsActive:                          "DOMAIN_IS_ACTIVE",
	ProcDomainIsPersistent:                      "DOMAIN_IS_PERSISTENT",
	ProcConnectGetLibVersion:                    "CONNECT_GET_LIB_VERSION",
	ProcConnectDomainEventRegisterAny:           "CONNECT_DOMAIN_EVENT_REGISTER_ANY",
	ProcConnectDomainEventDeregisterAny:         "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY",
	ProcDomainEventReboot:                       "DOMAIN_EVENT_REBOOT",
	ProcDomainHasManagedSaveImage:               "DOMAIN_HAS_MANAGED_SAVE_IMAGE",
	ProcDomainSnapshotNum:                       "DOMAIN_SNAPSHOT_NUM",
	ProcDomainCreateWithFlags:                   "DOMAIN_CREATE_WITH_FLAGS",
	ProcDomainGetState:                          "DOMAIN_GET_STATE",
	ProcDomainUndefineFlags:                     "DOMAIN_UNDEFINE_FLAGS",
	ProcDomainSaveFlags:                         "DOMAIN_SAVE_FLAGS",
	ProcDomainRestoreFlags:                      "DOMAIN_RESTORE_FLAGS",
	ProcDomainDestroyFlags:                      "DOMAIN_DESTROY_FLAGS",
	ProcDomainShutdownFlags:                     "DOMAIN_SHUTDOWN_FLAGS",
	ProcConnectListAllDomains:                   "CONNECT_LIST_ALL_DOMAINS",
	ProcConnectListAllNetworks:                  "CONNECT_LIST_ALL_NETWORKS",
	ProcConnectDomainEventCallbackRegisterAny:   "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
	ProcConnectDomainEventCallbackDeregisterAny: "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY",
	ProcDomainEventCallbackLifecycle:            "DOMAIN_EVENT_CALLBACK_LIFECYCLE",
	ProcDomainEventCallbackReboot:               "DOMAIN_EVENT_CALLBACK_REBOOT",
	ProcDomainDefineXMLFlags:                    "DOMAIN_DEFINE_XML_FLAGS",
	ProcConnectRegisterCloseCallback:            "CONNECT_REGISTER_CLOSE_CALLBACK",
	ProcConnectUnregisterCloseCallback:          "CONNECT_UNREGISTER_CLOSE_CALLBACK",
	ProcConnectEventConnectionClosed:            "CONNECT_EVENT_CONNECTION_CLOSED",
	ProcDomainGetMessages:                       "DOMAIN_GET_MESSAGES",
}

func (p Procedure) String() string {
	if n, ok := procNames[p]; ok {
		return n
	}
	return fmt.Sprintf("proc(%d)", int32(p))
}

// Connection features asked about with CONNECT_SUPPORTS_FEATURE
// (virDrvFeature).
const (
	FeatureProgramKeepalive    = 10
	FeatureRemoteEventCallback = 14
	FeatureRemoteCloseCallback = 15
)

// Auth types (remote_auth_type).
const (
	AuthNone   = 0
	AuthSASL   = 1
	AuthPolkit = 2
)

// Connection close reasons (virConnectCloseReason), sent in
// CONNECT_EVENT_CONNECTION_CLOSED.
const (
	CloseReasonError     = 0
	CloseReasonEOF       = 1
	CloseReasonKeepalive = 2
	CloseReasonClient    = 3
)
