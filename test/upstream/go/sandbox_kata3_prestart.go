// vc.CreateSandbox of Kata 3.x: (ctx, config, factory, prestartHookFunc); no factory, no hook.
package main

import (
	"context"

	vc "github.com/kata-containers/kata-containers/src/runtime/virtcontainers"
)

func createSandbox(ctx context.Context, cfg vc.SandboxConfig) (vc.VCSandbox, error) {
	return vc.CreateSandbox(ctx, cfg, nil, nil)
}
