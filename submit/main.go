// Command submit plans a thumbnail run over many prefixes, runs it on AWS
// Batch or on this machine, then watches and retries it. One file per
// command (plan.go, run.go, status.go, retry.go); executor.go picks where
// the jobs run.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run(os.Args))
}

// usageError marks mistakes in the command line (exit 2).
type usageError struct{ error }

func env(name string) []string { return []string{"QUICKLOOK_" + name} }

func run(args []string) int {
	app := &cli.App{
		Name:  "submit",
		Usage: "plan a thumbnail run over many prefixes, run it on AWS Batch or here, watch and retry it",
		Description: "A run is one job per prefix (or array jobs over bin-packed shards) of the job\n" +
			"binary. Runs are named (--run-id, by default the day and a hash of the inputs),\n" +
			"so running the same command again submits only what is not queued, running or\n" +
			"done. Exit codes: 0 done, 1 some jobs failed, 2 usage or configuration error.",
		Commands:       []*cli.Command{planCommand(), runCommand(), statusCommand(), retryCommand()},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	err := app.Run(args)
	var ee cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.Error() != "" {
			fmt.Fprintln(os.Stderr, "submit:", ee.Error())
		}
		return ee.ExitCode()
	default: // usage errors and everything before a job ran
		fmt.Fprintln(os.Stderr, "submit:", err)
		return 2
	}
}
