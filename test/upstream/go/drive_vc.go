// Driver for Clear Containers' virtcontainers (containers/virtcontainers, 2018): its public
// pod API with the mock hypervisor and the noop agent, proxy and shim, fed by its OCI front
// end (pkg/oci, reading the bundle's config.json as cc-runtime does). See scenario.go.
package main

import (
	"fmt"

	vc "github.com/containers/virtcontainers"
	"github.com/containers/virtcontainers/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type vcDriver struct {
	rt oci.RuntimeConfig
}

func newDriver() (driver, error) {
	return &vcDriver{rt: oci.RuntimeConfig{
		HypervisorType: vc.MockHypervisor,
		HypervisorConfig: vc.HypervisorConfig{
			KernelPath:     "/usr/share/clear-containers/vmlinuz.container",
			ImagePath:      "/usr/share/clear-containers/clear-containers.img",
			HypervisorPath: "/usr/bin/qemu-lite-system-x86_64",
			DefaultBridges: 1,
		},
		AgentType: vc.NoopAgentType,
		ProxyType: vc.NoopProxyType,
		ShimType:  vc.NoopShimType,
	}}, nil
}

func (d *vcDriver) name() string { return "vc" }

func (d *vcDriver) runtimeInfo() map[string]string {
	return map[string]string{"hypervisor": string(vc.MockHypervisor), "agent": string(vc.NoopAgentType),
		"proxy": string(vc.NoopProxyType), "shim": string(vc.NoopShimType)}
}

func (d *vcDriver) runPod(p *podPlan, _ map[string]*specs.Spec) error {
	rt := d.rt
	rt.HypervisorConfig.DefaultVCPUs = p.VCPUs
	rt.VMConfig = vc.Resources{Memory: uint(p.MemoryMiB)}
	rt.HypervisorConfig.BlockDeviceDriver = p.BlockDriver
	sb := &p.Containers[0]
	spec, err := oci.ParseConfigJSON(sb.Bundle)
	if err != nil {
		return err
	}
	cfg, err := oci.PodConfig(spec, rt, sb.Bundle, sb.ID, "", true)
	if err != nil {
		return err
	}
	// pkg/oci picks CNM, which creates a network namespace and veth pairs on the host: the
	// generator must not touch the host network, so it uses the noop network model.
	cfg.NetworkModel = vc.NoopNetworkModel
	p.VCPUs = cfg.HypervisorConfig.DefaultVCPUs
	p.MemoryMiB = uint32(cfg.VMConfig.Memory)
	if p.MemoryMiB == 0 {
		p.MemoryMiB = cfg.HypervisorConfig.DefaultMemSz
	}
	if _, err := vc.CreatePod(cfg); err != nil {
		return fmt.Errorf("CreatePod: %v", err)
	}
	for i := 1; i < len(p.Containers); i++ {
		c := &p.Containers[i]
		cs, err := oci.ParseConfigJSON(c.Bundle)
		if err != nil {
			return err
		}
		cc, err := oci.ContainerConfig(cs, c.Bundle, c.ID, "", true)
		if err != nil {
			return err
		}
		if _, _, err := vc.CreateContainer(p.ID, cc); err != nil {
			return fmt.Errorf("CreateContainer %s: %v", c.Name, err)
		}
	}
	if p.Goal == goalCreated {
		return nil
	}
	if _, err := vc.StartPod(p.ID); err != nil {
		return fmt.Errorf("StartPod: %v", err)
	}
	switch p.Goal {
	case goalPaused:
		if _, err := vc.PausePod(p.ID); err != nil {
			return fmt.Errorf("PausePod: %v", err)
		}
	case goalStopped:
		if _, err := vc.StopPod(p.ID); err != nil {
			return fmt.Errorf("StopPod: %v", err)
		}
	}
	return nil
}

func (d *vcDriver) status(p *podPlan) (podStatus, error) {
	st, err := vc.StatusPod(p.ID)
	if err != nil {
		return podStatus{}, err
	}
	out := podStatus{State: string(st.State.State)}
	for _, c := range st.ContainersStatus {
		out.Containers = append(out.Containers, containerStatus{ID: c.ID, State: string(c.State.State), PID: c.PID, StartTime: c.StartTime})
	}
	return out, nil
}
