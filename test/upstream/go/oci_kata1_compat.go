// What differs between Kata 1.x releases, older side (used for 1.5.5; 1.7.3 has the same signatures): pkg/oci
// takes an oci.CompatOCISpec, read from the bundle by oci.ParseConfigJSON as the kata-runtime
// CLI does, and StopSandbox has no force flag (oci_kata1_spec.go: 1.10.8, 1.11.5).
package main

import (
	"context"

	vc "github.com/kata-containers/runtime/virtcontainers"
	"github.com/kata-containers/runtime/virtcontainers/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func sandboxConfig(_ specs.Spec, rt oci.RuntimeConfig, bundle, cid string) (vc.SandboxConfig, error) {
	s, err := oci.ParseConfigJSON(bundle)
	if err != nil {
		return vc.SandboxConfig{}, err
	}
	return oci.SandboxConfig(s, rt, bundle, cid, "", true, false)
}

func containerConfig(_ specs.Spec, bundle, cid string) (vc.ContainerConfig, error) {
	s, err := oci.ParseConfigJSON(bundle)
	if err != nil {
		return vc.ContainerConfig{}, err
	}
	return oci.ContainerConfig(s, bundle, cid, "", true)
}

func stopSandbox(ctx context.Context, id string) error {
	_, err := vc.StopSandbox(ctx, id)
	return err
}
