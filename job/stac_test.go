package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/testenv"
)

// planetaryComputerItem is shaped like the Planetary Computer's NAIP items
// (collection naip): the COG on Azure blob storage as "image", and a
// thumbnail asset of its own, which the step replaces.
func planetaryComputerItem(quad string) string {
	base := "https://naipeuwest.blob.core.windows.net/naip/v002/al/2019/al_60cm_2019/30085/m_3008501_" + quad + "_16_060_20191101"
	return `{"type":"Feature","stac_version":"1.0.0","id":"al_m_3008501_` + quad + `_16_060_20191101_20200114",
 "stac_extensions":["https://stac-extensions.github.io/eo/v1.0.0/schema.json","https://stac-extensions.github.io/projection/v1.0.0/schema.json"],
 "collection":"naip",
 "geometry":{"type":"Polygon","coordinates":[[[-85.875,30.938],[-85.875,31.003],[-85.94,31.003],[-85.94,30.938],[-85.875,30.938]]]},
 "bbox":[-85.94,30.938,-85.875,31.003],
 "properties":{"gsd":0.6,"datetime":"2019-11-01T00:00:00Z","naip:year":"2019","naip:state":"al","proj:epsg":26916,
  "proj:shape":[12596,10668],"proj:bbox":[605416.8,3423588.0,611817.6,3431145.6]},
 "links":[{"rel":"collection","type":"application/json","href":"https://planetarycomputer.microsoft.com/api/stac/v1/collections/naip"},
  {"rel":"self","type":"application/geo+json","href":"https://planetarycomputer.microsoft.com/api/stac/v1/collections/naip/items/al_m_3008501_` + quad + `_16_060_20191101_20200114"}],
 "assets":{
  "image":{"href":"` + base + `.tif","type":"image/tiff; application=geotiff; profile=cloud-optimized","roles":["data"],"title":"RGBIR COG tile",
   "eo:bands":[{"name":"Red","common_name":"red"},{"name":"Green","common_name":"green"},{"name":"Blue","common_name":"blue"},{"name":"NIR","common_name":"nir"}]},
  "metadata":{"href":"https://naipeuwest.blob.core.windows.net/naip/v002/al/2019/al_fgdc_2019/30085/m_3008501_` + quad + `_16_060_20191101.txt","type":"text/plain","roles":["metadata"],"title":"FGDC Metdata"},
  "thumbnail":{"href":"` + base + `.200.jpg","type":"image/jpeg","roles":["thumbnail"],"title":"Thumbnail"}}}`
}

// earthSearchCollection is an ItemCollection shaped like Earth Search's NAIP
// items: the image in the requester-pays naip-analytic bucket, by s3:// href.
func earthSearchCollection(quads ...string) string {
	var items []string
	for _, q := range quads {
		items = append(items, `{"type":"Feature","stac_version":"1.0.0","id":"al_m_3008501_`+q+`_16_060_20191101","collection":"naip",
 "stac_extensions":["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
 "geometry":{"type":"Polygon","coordinates":[[[-85.875,30.938],[-85.875,31.003],[-85.94,31.003],[-85.94,30.938],[-85.875,30.938]]]},
 "bbox":[-85.94,30.938,-85.875,31.003],
 "properties":{"datetime":"2019-11-01T00:00:00Z","naip:year":"2019","naip:state":"al","gsd":0.6,"created":"2023-06-07T16:56:45.106Z"},
 "links":[{"rel":"self","type":"application/geo+json","href":"https://earth-search.aws.element84.com/v1/collections/naip/items/al_m_3008501_`+q+`_16_060_20191101"},
  {"rel":"parent","type":"application/json","href":"https://earth-search.aws.element84.com/v1/collections/naip"},
  {"rel":"collection","type":"application/json","href":"https://earth-search.aws.element84.com/v1/collections/naip"},
  {"rel":"root","type":"application/json","href":"https://earth-search.aws.element84.com/v1"}],
 "assets":{"image":{"href":"s3://naip-analytic/al/2019/60cm/rgbir_cog/30085/m_3008501_`+q+`_16_060_20191101.tif","type":"image/tiff; application=geotiff; profile=cloud-optimized","roles":["data"]},
  "metadata":{"href":"s3://naip-source/al/2019/al_fgdc_2019/30085/m_3008501_`+q+`_16_060_20191101.txt","type":"text/plain","roles":["metadata"]}}}`)
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(items, ",") + `]}`
}

// validateSTAC runs the STAC Item JSON schema over the documents with a
// real validator (Debian's python3-jsonschema), offline.
func validateSTAC(t *testing.T, docs string) (bool, string) {
	t.Helper()
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		testenv.Missing(t, python+" (Debian's, with python3-jsonschema)")
	}
	schemas := testenv.Shared(t, "stac-schema")
	if _, err := os.Stat(filepath.Join(schemas, "item.json")); err != nil {
		testenv.Missing(t, schemas+" (the STAC Item JSON schema v1.0.0: the shared folder beside the checkout, or set QUICKLOOK_SHARED)")
	}
	cmd := exec.Command(python, "testdata/validate_stac.py", schemas)
	cmd.Stdin = strings.NewReader(docs)
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "No module named") {
		testenv.Missing(t, "python3-jsonschema")
	}
	return err == nil, string(out)
}

func TestSTACItemsGetThumbnailAssets(t *testing.T) {
	dir := t.TempDir()
	pc := filepath.Join(dir, "pc-item.json")
	os.WriteFile(pc, []byte(planetaryComputerItem("ne")), 0o644)
	es := filepath.Join(dir, "es-items.json")
	os.WriteFile(es, []byte(earthSearchCollection("nw", "se")), 0o644)
	for name, in := range map[string]string{"pc": planetaryComputerItem("ne"), "es": earthSearchCollection("nw")} {
		if ok, out := validateSTAC(t, in); !ok {
			t.Fatalf("the %s input is not a valid STAC Item: %s", name, out)
		}
	}
	// The validator catches a broken item (so it can fail the output).
	if ok, _ := validateSTAC(t, strings.Replace(planetaryComputerItem("ne"), `"href":"https://naipeuwest`, `"hrefx":"https://naipeuwest`, 1)); ok {
		t.Fatal("an asset without href passed the validator")
	}

	r := runBin(t, nil, "url", "--stac", "--url-base", base, "--profile", "thumb:256:jpeg", "--profile", "preview:1024:webp", pc, es)
	if r.code != 0 || !strings.Contains(r.stderr, "3 items: 3 pointed at thumbnails (1 thumbnail assets replaced), 0 without a source asset") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if ok, out := validateSTAC(t, r.stdout); !ok {
		t.Fatalf("written items are not valid STAC Items: %s\n%s", out, r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d documents written for 2 read", len(lines))
	}
	type asset struct {
		Href, Type string
		Roles      []string
	}
	var item struct {
		Assets map[string]asset
	}
	json.Unmarshal([]byte(lines[0]), &item)
	want := base + "/v002/al/2019/al_60cm_2019/30085/m_3008501_ne_16_060_20191101"
	if a := item.Assets["thumbnail"]; a.Href != want+".thumb.jpg" || a.Type != "image/jpeg" || strings.Join(a.Roles, ",") != "thumbnail" {
		t.Errorf("planetary computer thumbnail %+v", a)
	}
	if a := item.Assets["thumbnail-preview"]; a.Href != want+".preview.webp" || a.Type != "image/webp" {
		t.Errorf("second profile's asset %+v", a)
	}
	if item.Assets["image"].Href != strings.Replace(want, base, "https://naipeuwest.blob.core.windows.net/naip", 1)+".tif" {
		t.Errorf("the source asset changed: %+v", item.Assets["image"])
	}
	var coll struct {
		Type     string
		Features []struct{ Assets map[string]asset }
	}
	json.Unmarshal([]byte(lines[1]), &coll)
	if coll.Type != "FeatureCollection" || len(coll.Features) != 2 ||
		coll.Features[1].Assets["thumbnail"].Href != base+"/al/2019/60cm/rgbir_cog/30085/m_3008501_se_16_060_20191101.thumb.jpg" {
		t.Errorf("earth search collection: %s", lines[1])
	}

	// NDJSON on stdin; --stac-asset and --stac-href-prefix; an item the step cannot point passes unchanged.
	ndjson := strings.ReplaceAll(planetaryComputerItem("sw"), "\n", "") + "\n" + `{"type":"Feature","stac_version":"1.0.0","id":"odd","geometry":null,"links":[],"properties":{"datetime":"2020-01-01T00:00:00Z"},"assets":{"data":{"href":"https://example.org/files/x/y.tif"}}}` + "\n"
	cmd := exec.Command(jobBin, "url", "--stac", "--url-base", base)
	cmd.Stdin = strings.NewReader(ndjson)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !strings.Contains(stderr.String(), "2 items: 1 pointed at thumbnails (1 thumbnail assets replaced), 1 without a source asset") ||
		!strings.Contains(string(out), `"id":"odd"`) || strings.Count(string(out), `"roles":["thumbnail"]`) != 1 {
		t.Fatalf("ndjson: %v\n%s\n%s", err, out, stderr.String())
	}
	cmd = exec.Command(jobBin, "url", "--stac", "--url-base", base, "--stac-asset", "data", "--stac-href-prefix", "https://example.org/files/")
	cmd.Stdin = strings.NewReader(strings.SplitAfter(ndjson, "\n")[1])
	out, err = cmd.Output()
	if err != nil || !strings.Contains(string(out), `"href":"`+base+`/x/y.thumb.jpg"`) {
		t.Fatalf("href prefix: %v\n%s", err, out)
	}
	if ok, msg := validateSTAC(t, string(out)); !ok {
		t.Fatalf("item with a null geometry: %s", msg)
	}
	if r := runBin(t, nil, "url", "--json", "--stac", "--url-base", base); r.code != 2 {
		t.Fatalf("--json with --stac: exit %d", r.code)
	}
}
