// What differs between Kata 1.x releases, newer side (used for 1.10.8 and 1.11.5): pkg/oci
// takes a specs.Spec and StopSandbox a force flag (oci_kata1_compat.go: 1.5.5).
package main

import (
	"context"

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

func stopSandbox(ctx context.Context, id string) error {
	_, err := vc.StopSandbox(ctx, id, false)
	return err
}
