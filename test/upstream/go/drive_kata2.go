// Driver for Kata Containers 2.x and 3.x (kata-containers/kata-containers, the Go runtime in
// src/runtime): virtcontainers' sandbox API (CreateSandbox, then the VCSandbox methods) with
// the mock hypervisor and the mock agent (vc.WithNewAgentFunc(ctx, vc.NewMockAgent)), fed by
// its OCI front end (pkg/oci) as the containerd shim v2 does. See scenario.go.
package main

import (
	"context"
	"fmt"

	"github.com/kata-containers/kata-containers/src/runtime/pkg/oci"
	vc "github.com/kata-containers/kata-containers/src/runtime/virtcontainers"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type kata2 struct {
	ctx       context.Context
	rt        oci.RuntimeConfig
	sandboxes map[string]vc.VCSandbox
}

func newDriver() (driver, error) {
	rt := oci.RuntimeConfig{
		HypervisorType: vc.MockHypervisor,
		HypervisorConfig: vc.HypervisorConfig{
			KernelPath:     "/opt/kata/share/kata-containers/vmlinux.container",
			ImagePath:      "/opt/kata/share/kata-containers/kata-containers.img",
			HypervisorPath: "/opt/kata/bin/qemu-system-x86_64",
			DefaultBridges: 1,
		},
		// No network namespace: the generator must not touch the host's network.
		DisableNewNetNs: true,
	}
	return &kata2{
		ctx:       vc.WithNewAgentFunc(context.Background(), vc.NewMockAgent),
		rt:        rt,
		sandboxes: map[string]vc.VCSandbox{},
	}, nil
}

func (k *kata2) name() string { return "kata2" }

// 2.x/3.x store no agent, proxy or shim type (one agent, no proxy, one shim v2 per
// sandbox): only the hypervisor's. The exporter reports those as "".
func (k *kata2) runtimeInfo() map[string]string {
	return map[string]string{"hypervisor": string(vc.MockHypervisor), "agent": "", "proxy": "", "shim": ""}
}

func (k *kata2) runPod(p *podPlan, byID map[string]*specs.Spec) error {
	rt := k.rt
	setVCPUs(&rt.HypervisorConfig, p.VCPUs)
	setVFIOPort(&rt.HypervisorConfig)
	rt.HypervisorConfig.MemorySize = p.MemoryMiB
	rt.HypervisorConfig.BlockDeviceDriver = p.BlockDriver
	sb := &p.Containers[0]
	cfg, err := oci.SandboxConfig(*byID[sb.ID], rt, sb.Bundle, sb.ID, true, false)
	if err != nil {
		return err
	}
	p.VCPUs, p.MemoryMiB = getVCPUs(&cfg.HypervisorConfig), cfg.HypervisorConfig.MemorySize
	s, err := createSandbox(k.ctx, cfg)
	if err != nil {
		return fmt.Errorf("CreateSandbox: %v", err)
	}
	k.sandboxes[p.ID] = s
	for i := 1; i < len(p.Containers); i++ {
		c := &p.Containers[i]
		cc, err := oci.ContainerConfig(*byID[c.ID], c.Bundle, c.ID, true)
		if err != nil {
			return err
		}
		if _, err := s.CreateContainer(k.ctx, cc); err != nil {
			return fmt.Errorf("CreateContainer %s: %v", c.Name, err)
		}
	}
	if p.Goal == goalCreated {
		return nil
	}
	if err := s.Start(k.ctx); err != nil {
		return fmt.Errorf("Start: %v", err)
	}
	switch p.Goal {
	case goalPaused:
		if err := s.PauseContainer(k.ctx, p.Containers[len(p.Containers)-1].ID); err != nil {
			return fmt.Errorf("PauseContainer: %v", err)
		}
	case goalStopped:
		if err := s.Stop(k.ctx, false); err != nil {
			return fmt.Errorf("Stop: %v", err)
		}
	}
	return nil
}

func (k *kata2) status(p *podPlan) (podStatus, error) {
	s := k.sandboxes[p.ID]
	if s == nil {
		return podStatus{}, fmt.Errorf("no sandbox %s", p.ID)
	}
	st := s.Status()
	out := podStatus{State: string(st.State.State)}
	for _, c := range st.ContainersStatus {
		out.Containers = append(out.Containers, containerStatus{ID: c.ID, State: string(c.State.State), PID: c.PID, StartTime: c.StartTime})
	}
	return out, nil
}
