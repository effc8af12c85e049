// Command job builds the thumbnails of one prefix of a bucket or folder.
// It is the program the AWS Batch job definition runs; docs/design.md holds
// its contracts (naming, manifest, exit codes) and docs/job.md what it does.
// One file per command: run.go, url.go, worker.go.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"quicklook/internal/runspec"
)

func main() {
	// Keep the Go heap near what it holds (read caches, buffers): without a
	// limit it grows to twice that before collecting, which is what peak
	// memory would measure. GOMEMLIMIT overrides.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimitMiB << 20)
	}
	os.Exit(run(os.Args))
}

// memoryLimitMiB is the Go heap the job aims at; with --isolate it is
// divided among the render processes, each getting at least childMemoryMiB
// (one image's read cache and buffers).
const (
	memoryLimitMiB = 224
	childMemoryMiB = 48
)

func env(name string) []string { return []string{"QUICKLOOK_" + name} }

func run(args []string) int {
	code := runspec.ExitOK
	app := &cli.App{
		Name:  "job",
		Usage: "build thumbnails for one prefix of a bucket or folder",
		Description: "Exit codes: 0 done (broken images are recorded in the manifest), 2 usage or\n" +
			"configuration error, 3 data errors above --max-failure-rate, 75 interrupted or\n" +
			"transient failure (a rerun does only what is left). Every flag can also be set\n" +
			"with the environment variable shown next to it.",
		Commands:       []*cli.Command{runCommand(&code), urlCommand(&code), renderWorkerCommand(&code)},
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are decided below
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintln(os.Stderr, "job:", err)
		if code == runspec.ExitOK {
			code = runspec.ExitUsage
		}
	}
	return code
}
