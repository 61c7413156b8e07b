// vc.CreateSandbox of Kata 2.x: (ctx, config, factory).
package main

import (
	"context"

	vc "github.com/kata-containers/kata-containers/src/runtime/virtcontainers"
)

func createSandbox(ctx context.Context, cfg vc.SandboxConfig) (vc.VCSandbox, error) {
	return vc.CreateSandbox(ctx, cfg, nil)
}
