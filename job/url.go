package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"quicklook/internal/flagset"
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
		Usage: "print thumbnail URLs of source keys, or set them in search-index entries (JSON or NDJSON) or STAC Items",
		UsageText: "job url --url-base https://d123.cloudfront.net al/2013/1m/30085/m_3008501_ne_16_1_20130928.tif\n" +
			"   job url --url-base https://d123.cloudfront.net --json entry.json > pointed.json\n" +
			"   job url --url-base https://d123.cloudfront.net --json --check manifest --dest s3://THUMBS/ < entries.ndjson\n" +
			"   job url --url-base https://d123.cloudfront.net --stac items.json > items-with-thumbnails.json\n" +
			"   job url --url-base https://d123.cloudfront.net --profiles profiles.json --output square --json < entries.ndjson",
		Description: "Keys: one URL per key, in order (an empty line for a key without a thumbnail, with --check).\n" +
			"--json: each entry gets --url-field from the key at --key-field.\n" +
			"--stac: each STAC Item (an Item, an ItemCollection, or one Item per line) gets assets.thumbnail\n" +
			"(href, type, roles [\"thumbnail\"]) and one asset thumbnail-NAME per further output; the source\n" +
			"key comes from the href of --stac-asset (default: image, visual, or the first GeoTIFF asset):\n" +
			"s3://BUCKET/KEY, https URLs of S3 buckets and Azure blob containers, or what follows --stac-href-prefix.\n" +
			"With --profiles (the file the jobs rendered with), --output picks the outputs by name.\n" +
			"An existing thumbnail asset is replaced. Entries and items that cannot be pointed pass through\n" +
			"unchanged, with a warning, and are counted on stderr.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url-base", EnvVars: env("URL_BASE"), Usage: "where the thumbnail bucket is served (the stack's UrlBase output)"},
			&cli.StringSliceFlag{Name: "profile", EnvVars: env("URL_PROFILE"), Value: cli.NewStringSlice(naming.DefaultProfile.String()), Usage: "which thumbnail (NAME:SIZE:FORMAT); with --stac, repeat it for more assets"},
			flagset.ProfilesFlag(),
			&cli.StringSliceFlag{Name: "output", EnvVars: env("URL_OUTPUT"), Usage: "which of the outputs (by name, or NAME.EXT when names repeat) to point at, e.g. --output square; with --stac, repeat it: the first becomes the thumbnail asset (default: the only output, or with --stac all of them)"},
			&cli.BoolFlag{Name: "json", Usage: "filter mode: read entries from the files given (or stdin), write them to stdout, one per line"},
			&cli.StringFlag{Name: "key-field", EnvVars: env("KEY_FIELD"), Value: "entry.fields.fs_key", Usage: "dotted path of the source key in an entry"},
			&cli.StringFlag{Name: "url-field", EnvVars: env("URL_FIELD"), Value: "entry.fields.image_url", Usage: "dotted path of the URL to set"},
			&cli.BoolFlag{Name: "stac", Usage: "filter mode for STAC Items: read them from the files given (or stdin), write them to stdout"},
			&cli.StringFlag{Name: "stac-asset", EnvVars: env("STAC_ASSET"), Usage: "the asset whose href is the source image (default: image, visual, or the first GeoTIFF asset)"},
			&cli.StringFlag{Name: "stac-href-prefix", EnvVars: env("STAC_HREF_PREFIX"), Usage: "cut this from the source href to get the source key (for hrefs that are not s3:// or an S3/Azure https URL)"},
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
	if c.Bool("json") && c.Bool("stac") {
		return fail(runspec.ExitUsage, "give --json or --stac, not both")
	}
	profiles, err := flagset.ProfilesFrom(c, "profile")
	if err != nil {
		return fail(runspec.ExitUsage, "%v", err)
	}
	if profiles, err = naming.Select(profiles, c.StringSlice("output")); err != nil {
		return fail(runspec.ExitUsage, "--output: %v", err)
	}
	if len(profiles) > 1 && !c.Bool("stac") {
		return fail(runspec.ExitUsage, "%d outputs, and a key or an index entry points at one: give --output NAME (or --stac, which makes an asset of each): %s", len(profiles), naming.OutputNames(profiles))
	}
	exists, err := checker(c)
	if err != nil {
		return fail(runspec.ExitUsage, "%v", err)
	}
	warn := func(s string) { fmt.Fprintln(os.Stderr, "job url: warning:", s) }
	if !c.Bool("json") && !c.Bool("stac") {
		return urlsOfKeys(c, profiles[0], exists, fail)
	}
	in, closeAll, err := inputs(c.Args().Slice())
	if err != nil {
		return fail(runspec.ExitUsage, "%v", err)
	}
	defer closeAll()
	if c.Bool("stac") {
		st, err := indexer.FilterSTAC(in, os.Stdout, indexer.STACOptions{URLBase: c.String("url-base"), Profiles: profiles,
			Asset: c.String("stac-asset"), HrefPrefix: c.String("stac-href-prefix"), Exists: exists, Warn: warn})
		fmt.Fprintf(os.Stderr, "job url: %d items: %d pointed at thumbnails (%d thumbnail assets replaced), %d without a source asset, %d without a thumbnail yet\n",
			st.Items, st.Pointed, st.Replaced, st.NoSource, st.NoThumbnail)
		if err != nil {
			return fail(1, "%v", err)
		}
		return 0
	}
	keyField, err := indexer.ParsePath(c.String("key-field"))
	if err != nil {
		return fail(runspec.ExitUsage, "--key-field: %v", err)
	}
	urlField, err := indexer.ParsePath(c.String("url-field"))
	if err != nil {
		return fail(runspec.ExitUsage, "--url-field: %v", err)
	}
	st, err := indexer.Filter(in, os.Stdout, indexer.Options{URLBase: c.String("url-base"), Profile: profiles[0],
		KeyField: keyField, URLField: urlField, Exists: exists, Warn: warn})
	fmt.Fprintf(os.Stderr, "job url: %d entries: %d pointed at thumbnails, %d without a source key, %d without a thumbnail yet\n",
		st.Entries, st.Pointed, st.NoKey, st.NoThumbnail)
	if err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

// urlsOfKeys prints one URL per key given on the command line.
func urlsOfKeys(c *cli.Context, p naming.Profile, exists func(string) (bool, error), fail func(int, string, ...any) int) int {
	if c.NArg() == 0 {
		return fail(runspec.ExitUsage, "give source keys, or --json or --stac to filter documents")
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

// inputs reads the files given, one after the other, or stdin.
func inputs(files []string) (io.Reader, func(), error) {
	if len(files) == 0 {
		return bufio.NewReader(os.Stdin), func() {}, nil
	}
	var readers []io.Reader
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		opened = append(opened, f)
		readers = append(readers, f)
	}
	return io.MultiReader(readers...), closeAll, nil
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
