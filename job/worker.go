package main

import (
	"github.com/urfave/cli/v2"

	"quicklook/internal/renderproc"
)

func renderWorkerCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:   "render-worker",
		Usage:  "(internal) the render process that job run --isolate starts for each worker",
		Hidden: true,
		Action: func(*cli.Context) error {
			if err := renderproc.ServeChild(); err != nil {
				*code = 1
				return err
			}
			return nil
		},
	}
}
