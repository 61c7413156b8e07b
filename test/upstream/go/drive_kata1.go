// Driver for Kata Containers 1.x (kata-containers/runtime), API of the 1.6–1.12 releases:
// virtcontainers' public API with the mock hypervisor and the noop agent, proxy and shim,
// fed by its OCI front end (pkg/oci) as the kata-runtime CLI does. See scenario.go.
package main

import (
	"context"
	"fmt"

	vc "github.com/kata-containers/runtime/virtcontainers"
	"github.com/kata-containers/runtime/virtcontainers/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type kata1 struct {
	ctx context.Context
	rt  oci.RuntimeConfig
}

func newDriver() (driver, error) {
	return &kata1{
		ctx: context.Background(),
		rt: oci.RuntimeConfig{
			HypervisorType: vc.MockHypervisor,
			HypervisorConfig: vc.HypervisorConfig{
				KernelPath:     "/usr/share/kata-containers/vmlinuz.container",
				ImagePath:      "/usr/share/kata-containers/kata-containers.img",
				HypervisorPath: "/usr/bin/qemu-system-x86_64",
				DefaultBridges: 1,
			},
			AgentType: vc.NoopAgentType,
			ProxyType: vc.NoopProxyType,
			ShimType:  vc.NoopShimType,
			// No network namespace and no endpoints: the generator must not touch the host's
			// network (up to 1.5 an empty netns path would make the runtime open "").
			DisableNewNetNs: true,
		},
	}, nil
}

func (k *kata1) name() string { return "kata1" }

func (k *kata1) runtimeInfo() map[string]string {
	return map[string]string{"hypervisor": string(vc.MockHypervisor), "agent": string(vc.NoopAgentType),
		"proxy": string(vc.NoopProxyType), "shim": string(vc.NoopShimType)}
}

func (k *kata1) runPod(p *podPlan, byID map[string]*specs.Spec) error {
	rt := k.rt
	rt.HypervisorConfig.NumVCPUs = p.VCPUs
	rt.HypervisorConfig.MemorySize = p.MemoryMiB
	rt.HypervisorConfig.BlockDeviceDriver = p.BlockDriver
	sb := &p.Containers[0]
	cfg, err := sandboxConfig(*byID[sb.ID], rt, sb.Bundle, sb.ID)
	if err != nil {
		return err
	}
	p.VCPUs, p.MemoryMiB = cfg.HypervisorConfig.NumVCPUs, cfg.HypervisorConfig.MemorySize
	if _, err := vc.CreateSandbox(k.ctx, cfg, nil); err != nil {
		return fmt.Errorf("CreateSandbox: %v", err)
	}
	for i := 1; i < len(p.Containers); i++ {
		c := &p.Containers[i]
		cc, err := containerConfig(*byID[c.ID], c.Bundle, c.ID)
		if err != nil {
			return err
		}
		if _, _, err := vc.CreateContainer(k.ctx, p.ID, cc); err != nil {
			return fmt.Errorf("CreateContainer %s: %v", c.Name, err)
		}
	}
	if p.Goal == goalCreated {
		return nil
	}
	if _, err := vc.StartSandbox(k.ctx, p.ID); err != nil {
		return fmt.Errorf("StartSandbox: %v", err)
	}
	switch p.Goal {
	case goalPaused:
		if err := vc.PauseContainer(k.ctx, p.ID, p.Containers[len(p.Containers)-1].ID); err != nil {
			return fmt.Errorf("PauseContainer: %v", err)
		}
	case goalStopped:
		if err := stopSandbox(k.ctx, p.ID); err != nil {
			return fmt.Errorf("StopSandbox: %v", err)
		}
	}
	return nil
}

func (k *kata1) status(p *podPlan) (podStatus, error) {
	st, err := vc.StatusSandbox(k.ctx, p.ID)
	if err != nil {
		return podStatus{}, err
	}
	out := podStatus{State: string(st.State.State)}
	for _, c := range st.ContainersStatus {
		out.Containers = append(out.Containers, containerStatus{ID: c.ID, State: string(c.State.State), PID: c.PID, StartTime: c.StartTime})
	}
	return out, nil
}
