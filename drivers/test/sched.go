package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The test hypervisor's scheduler is "fair" with one parameter, weight,
// which reads 50 whatever was set: libvirt's test driver accepts a new
// weight and keeps none, and govirtd answers as it does.
const schedWeight = 50

// DomainGetSchedulerType answers "fair" and its one parameter
// (drivers.OpDomainGetSchedulerType).
func (c *conn) DomainGetSchedulerType(ctx context.Context, ref protocol.Domain) (*protocol.DomainGetSchedulerTypeRet, error) {
	if err := c.drv.withDomain(ref, func(*domain) error { return nil }); err != nil {
		return nil, err
	}
	return &protocol.DomainGetSchedulerTypeRet{Type: "fair", Nparams: 1}, nil
}

// DomainGetSchedulerParameters answers the weight
// (drivers.OpDomainGetSchedulerParameters). The flags variant is not
// served: libvirt's test driver refuses the VIR_TYPED_PARAM_STRING_OKAY
// flag its own client adds to every call of it, so over the remote
// protocol libvirtd never answers it either.
func (c *conn) DomainGetSchedulerParameters(ctx context.Context, ref protocol.Domain, nparams int32) ([]protocol.TypedParam, error) {
	if err := c.drv.withDomain(ref, func(*domain) error { return nil }); err != nil {
		return nil, err
	}
	return []protocol.TypedParam{paramUint("weight", schedWeight)}, nil
}

// DomainSetSchedulerParametersFlags accepts a weight, an unsigned int,
// and refuses any other parameter (drivers.OpDomainSetSchedulerParametersFlags).
func (c *conn) DomainSetSchedulerParametersFlags(ctx context.Context, ref protocol.Domain, params []protocol.TypedParam, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainSetSchedulerParametersFlags")
	}
	for _, p := range params {
		switch {
		case p.Field != "weight":
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "parameter '%s' not supported: the test scheduler has only weight", p.Field)
		case p.Value.Type != int32(vir.TypedParamUint):
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid type for parameter 'weight': want an unsigned int")
		}
	}
	return c.drv.withDomain(ref, func(*domain) error { return nil })
}

// DomainSetSchedulerParameters is DomainSetSchedulerParametersFlags
// without flags.
func (c *conn) DomainSetSchedulerParameters(ctx context.Context, ref protocol.Domain, params []protocol.TypedParam) error {
	return c.DomainSetSchedulerParametersFlags(ctx, ref, params, 0)
}
