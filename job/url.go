package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"quicklook/internal/indexer"
	"quicklook/internal/manifest"
	"quicklook/internal/naming"
	"quicklook/internal/runspec"
	"quicklook/internal/storage"
)

// urlCommand is the indexer pipeline step: source keys to thumbnail URLs by
// the naming rule the job writes with.
func urlCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:  "url",
		Usage: "print thumbnail URLs of source keys, or set them in search-index entries (JSON or NDJSON)",
		UsageText: "job url --url-base https://d123.cloudfront.net al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif\n" +
			"   job url --url-base https://d123.cloudfront.net --json entry.json > pointed.json\n" +
			"   job url --url-base https://d123.cloudfront.net --json --check manifest --dest s3://THUMBS/ < entries.ndjson",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url-base", EnvVars: env("URL_BASE"), Usage: "where the thumbnail bucket is served (the stack's UrlBase output)"},
			&cli.StringFlag{Name: "profile", EnvVars: env("URL_PROFILE"), Value: naming.DefaultProfile.String(), Usage: "which thumbnail (NAME:SIZE:FORMAT)"},
			&cli.BoolFlag{Name: "json", Usage: "filter mode: read entries from the files given (or stdin), write them to stdout, one per line"},
			&cli.StringFlag{Name: "key-field", EnvVars: env("KEY_FIELD"), Value: "entry.fields.fs_key", Usage: "dotted path of the source key in an entry"},
			&cli.StringFlag{Name: "url-field", EnvVars: env("URL_FIELD"), Value: "entry.fields.image_url", Usage: "dotted path of the URL to set"},
			&cli.StringFlag{Name: "check", EnvVars: env("CHECK"), Value: "none", Usage: "point only at thumbnails that exist: none, manifest (the run manifests under --dest) or head (one HEAD each)"},
			&cli.StringFlag{Name: "dest", EnvVars: env("DEST"), Usage: "the thumbnail store, for --check"},
		},
		Action: func(c *cli.Context) error {
			*code = urlMain(c)
			return nil
		},
	}
}

func urlMain(c *cli.Context) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "job url: "+format+"\n", a...)
		return code
	}
	if c.String("url-base") == "" {
		return fail(runspec.ExitUsage, "--url-base is required")
	}
	p, err := naming.ParseProfile(c.String("profile"))
	if err != nil {
		return fail(runspec.ExitUsage, "%v", err)
	}
	keyField, err := indexer.ParsePath(c.String("key-field"))
	if err != nil {
		return fail(runspec.ExitUsage, "--key-field: %v", err)
	}
	urlField, err := indexer.ParsePath(c.String("url-field"))
	if err != nil {
		return fail(runspec.ExitUsage, "--url-field: %v", err)
	}
	exists, err := checker(c)
	if err != nil {
		return fail(runspec.ExitUsage, "%v", err)
	}
	if !c.Bool("json") {
		if c.NArg() == 0 {
			return fail(runspec.ExitUsage, "give source keys, or --json to filter entries")
		}
		missing := 0
		for _, key := range c.Args().Slice() {
			if exists != nil {
				ok, err := exists(naming.OutputKey("", key, p))
				if err != nil {
					return fail(runspec.ExitTransient, "%v", err)
				}
				if !ok {
					missing++
					fmt.Println() // keep one line per key
					fmt.Fprintf(os.Stderr, "job url: %s has no thumbnail yet\n", key)
					continue
				}
			}
			fmt.Println(indexer.URL(c.String("url-base"), p, key))
		}
		if missing > 0 {
			return 1
		}
		return 0
	}
	opts := indexer.Options{URLBase: c.String("url-base"), Profile: p, KeyField: keyField, URLField: urlField, Exists: exists,
		Warn: func(s string) { fmt.Fprintln(os.Stderr, "job url: warning:", s) }}
	var in io.Reader = bufio.NewReader(os.Stdin)
	if c.NArg() > 0 {
		var readers []io.Reader
		for _, f := range c.Args().Slice() {
			fh, err := os.Open(f)
			if err != nil {
				return fail(runspec.ExitUsage, "%v", err)
			}
			defer fh.Close()
			readers = append(readers, fh)
		}
		in = io.MultiReader(readers...)
	}
	st, err := indexer.Filter(in, os.Stdout, opts)
	fmt.Fprintf(os.Stderr, "job url: %d entries: %d pointed at thumbnails, %d without a source key, %d without a thumbnail yet\n",
		st.Entries, st.Pointed, st.NoKey, st.NoThumbnail)
	if err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

// checker returns how to tell whether a thumbnail exists, or nil for no check.
func checker(c *cli.Context) (func(string) (bool, error), error) {
	mode := c.String("check")
	if mode == "none" {
		return nil, nil
	}
	if mode != "manifest" && mode != "head" {
		return nil, fmt.Errorf("--check %q: none, manifest or head", mode)
	}
	if c.String("dest") == "" {
		return nil, fmt.Errorf("--check %s needs --dest", mode)
	}
	dest, err := storage.Open(c.Context, c.String("dest"), storage.OpenOptions{})
	if err != nil {
		return nil, err
	}
	if mode == "head" {
		return func(key string) (bool, error) {
			_, err := dest.Stat(c.Context, key)
			if errors.Is(err, storage.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		}, nil
	}
	outputs, err := manifest.Outputs(c.Context, dest)
	if err != nil {
		return nil, fmt.Errorf("reading manifests under %s: %w", c.String("dest"), err)
	}
	return func(key string) (bool, error) { return outputs[key], nil }, nil
}
