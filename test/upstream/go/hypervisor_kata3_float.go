// Hypervisor settings of recent Kata 3.x: boot vCPUs are HypervisorConfig.NumVCPUsF (float32,
// 3.3+), rounded up as the runtime does; a VFIO group is refused unless hot_plug_vfio (or
// cold_plug_vfio) names a port: bridge-port, the default of the shipped QEMU configuration.
package main

import (
	"github.com/kata-containers/kata-containers/src/runtime/pkg/device/config"
	vc "github.com/kata-containers/kata-containers/src/runtime/virtcontainers"
)

func setVCPUs(h *vc.HypervisorConfig, n uint32) { h.NumVCPUsF = float32(n) }

func getVCPUs(h *vc.HypervisorConfig) uint32 { return vc.RoundUpNumVCPUs(h.NumVCPUsF) }

func setVFIOPort(h *vc.HypervisorConfig) { h.HotPlugVFIO = config.BridgePort }
