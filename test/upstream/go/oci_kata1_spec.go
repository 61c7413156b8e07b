// pkg/oci of Kata 1.6+ takes a specs.Spec (1.5 and older: oci.CompatOCISpec).
package main

import (
	vc "github.com/kata-containers/runtime/virtcontainers"
	"github.com/kata-containers/runtime/virtcontainers/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func sandboxConfig(s specs.Spec, rt oci.RuntimeConfig, bundle, cid string) (vc.SandboxConfig, error) {
	return oci.SandboxConfig(s, rt, bundle, cid, "", true, false)
}

func containerConfig(s specs.Spec, bundle, cid string) (vc.ContainerConfig, error) {
	return oci.ContainerConfig(s, bundle, cid, "", true)
}
