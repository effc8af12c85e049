package flagset

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"quicklook/internal/naming"
	"quicklook/internal/storage"
)

// ProfilesFlag names a profiles file: a JSON array of outputs (see
// docs/job.md), at a path, file:// or s3:// location, or inline.
func ProfilesFlag() cli.Flag {
	return &cli.StringFlag{Name: "profiles", EnvVars: env("PROFILES"),
		Usage: "outputs from a profiles file (a JSON array: name, format, fit inside|cover, size or width and height, gravity, quality, background, bands, scale): a path, s3://BUCKET/KEY or the JSON itself; instead of --profile"}
}

// ProfilesFrom reads the outputs: the profiles file when --profiles is
// given, else the short forms of the flag named short (repeatable and
// comma-separated).
func ProfilesFrom(c *cli.Context, short string) ([]naming.Profile, error) {
	loc := strings.TrimSpace(c.String("profiles"))
	if loc == "" {
		var specs []string
		for _, v := range c.StringSlice(short) {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					specs = append(specs, s)
				}
			}
		}
		return naming.ParseProfiles(specs)
	}
	if c.IsSet(short) {
		return nil, fmt.Errorf("give --%s or --profiles, not both", short)
	}
	return LoadProfiles(c.Context, loc)
}

// LoadProfiles reads a profiles file from a location, or takes inline JSON.
func LoadProfiles(ctx context.Context, loc string) ([]naming.Profile, error) {
	// JSON given in place of a location starts as JSON does.
	inline := strings.HasPrefix(loc, "[") || strings.HasPrefix(loc, "{")
	data := []byte(loc)
	if !inline {
		var err error
		if data, err = storage.ReadFile(ctx, loc, storage.OpenOptions{}); err != nil {
			return nil, fmt.Errorf("--profiles %s: %w", loc, err)
		}
	}
	ps, err := naming.LoadProfiles(data)
	if err != nil && !inline {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return ps, err
}
