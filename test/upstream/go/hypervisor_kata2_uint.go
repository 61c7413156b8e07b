// Hypervisor settings of Kata 2.x up to 3.2: boot vCPUs are HypervisorConfig.NumVCPUs (uint32);
// VFIO groups are hot-plugged without a port setting.
package main

import vc "github.com/kata-containers/kata-containers/src/runtime/virtcontainers"

func setVCPUs(h *vc.HypervisorConfig, n uint32) { h.NumVCPUs = n }

func getVCPUs(h *vc.HypervisorConfig) uint32 { return h.NumVCPUs }

func setVFIOPort(*vc.HypervisorConfig) {}
