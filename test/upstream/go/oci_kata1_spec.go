// What differs between Kata 1.x releases, 1.6+ side: pkg/oci takes a specs.Spec (1.5 and
// older: oci.CompatOCISpec), StopSandbox takes a force flag (1.10+).
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
