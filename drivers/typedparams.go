package drivers

import (
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Typed parameters (virTypedParameter) as the wire carries them, for the
// calls that answer lists of them (stats, tuning).

// ParamInt is an int parameter.
func ParamInt(field string, v int32) protocol.TypedParam {
	return protocol.TypedParam{Field: field, Value: protocol.TypedParamValue{Type: int32(vir.TypedParamInt), I: v}}
}

// ParamUint is an unsigned int parameter.
func ParamUint(field string, v uint32) protocol.TypedParam {
	return protocol.TypedParam{Field: field, Value: protocol.TypedParamValue{Type: int32(vir.TypedParamUint), Ui: v}}
}

// ParamUllong is an unsigned long long parameter.
func ParamUllong(field string, v uint64) protocol.TypedParam {
	return protocol.TypedParam{Field: field, Value: protocol.TypedParamValue{Type: int32(vir.TypedParamUllong), Ul: v}}
}

// ParamString is a string parameter.
func ParamString(field, v string) protocol.TypedParam {
	return protocol.TypedParam{Field: field, Value: protocol.TypedParamValue{Type: int32(vir.TypedParamString), S: v}}
}

// ParamBool is a boolean parameter.
func ParamBool(field string, v bool) protocol.TypedParam {
	b := int32(0)
	if v {
		b = 1
	}
	return protocol.TypedParam{Field: field, Value: protocol.TypedParamValue{Type: int32(vir.TypedParamBoolean), B: b}}
}
