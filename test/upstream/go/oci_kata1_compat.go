// pkg/oci of Kata 1.0–1.5 takes an oci.CompatOCISpec, read from the bundle by
// oci.ParseConfigJSON as the kata-runtime CLI does (1.6+ takes a specs.Spec: oci_kata1_spec.go).
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
