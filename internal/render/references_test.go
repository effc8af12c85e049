package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quicklook/internal/naming"
	"quicklook/internal/testenv"
)

func TestMRFHeaderReferencesStayBesideTheHeader(t *testing.T) {
	parts := []string{"al/2013/m.idx", "al/2013/m.lrc", "al/2013/other.lrc"}
	head := func(raster string) string {
		return `<MRF_META><Raster><Size x="10" y="10" c="4"/><Compression>LERC</Compression>` + raster + `</Raster></MRF_META>`
	}
	ok := map[string]string{
		"default names":          head(""),
		"relative, beside it":    head(`<DataFile>m.lrc</DataFile><IndexFile>m.idx</IndexFile>`),
		"another part beside it": head(`<DataFile offset="10">other.lrc</DataFile>`),
		"empty":                  head(`<DataFile> </DataFile>`),
	}
	refused := map[string]string{
		"absolute":                head(`<DataFile>/etc/secret.lrc</DataFile>`),
		"absolute index":          head(`<IndexFile>/tmp/x.idx</IndexFile>`),
		"parent folder":           head(`<DataFile>../m.lrc</DataFile>`),
		"dot folder":              head(`<DataFile>./m.lrc</DataFile>`),
		"vsi":                     head(`<DataFile>/vsicurl/http://169.254.169.254/latest</DataFile>`),
		"url":                     head(`<DataFile>http://example.com/m.lrc</DataFile>`),
		"another scheme":          head(`<DataFile>s3:m.lrc</DataFile>`),
		"backslash":               head(`<DataFile>..\m.lrc</DataFile>`),
		"not listed":              head(`<DataFile>n.lrc</DataFile>`),
		"subfolder not listed":    head(`<DataFile>sub/m.lrc</DataFile>`),
		"lower case element":      head(`<datafile>/etc/secret.lrc</datafile>`),
		"as an attribute":         `<MRF_META><Raster DataFile="/etc/secret.lrc"><Size x="10" y="10"/></Raster></MRF_META>`,
		"namespaced":              head(`<x:DataFile xmlns:x="u">/etc/secret.lrc</x:DataFile>`),
		"character reference":     head(`<DataFile>&#47;etc/secret.lrc</DataFile>`),
		"cdata":                   head(`<DataFile><![CDATA[/etc/secret.lrc]]></DataFile>`),
		"caching MRF":             `<MRF_META><CachedSource><Source>/etc/secret.tif</Source></CachedSource>` + head("")[len("<MRF_META>"):],
		"cloning source anywhere": head(`<source clone="true">/x.mrf</source>`),
		"doctype":                 `<!DOCTYPE x [<!ENTITY e SYSTEM "/etc/passwd">]>` + head(""),
		"nested in a file name":   head(`<DataFile><a/>m.lrc</DataFile>`),
		"malformed":               head(`<DataFile>m.lrc</IndexFile>`),
	}
	for name, h := range ok {
		if err := checkMRFHeader([]byte(h), "al/2013/m.mrf", parts); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
	for name, h := range refused {
		err := checkMRFHeader([]byte(h), "al/2013/m.mrf", parts)
		var de *Error
		if !errors.As(err, &de) || de.Class != ClassCorrupt {
			t.Errorf("%s: %v, want a corrupt data error", name, err)
		}
	}
}

// An MRF renders from its overview, through the parts listed beside it,
// reading a sliver of its data file.
func TestMRFWithOverviewsReadsLittle(t *testing.T) {
	dir := t.TempDir()
	data := testenv.MRF(t, dir, "m", 4096)
	src := &dirSource{dir: dir}
	res, err := Render(context.Background(), src, "m.mrf", []string{"m.idx", "m.lrc"}, Options{Profiles: []naming.Profile{naming.DefaultProfile}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Level == 0 || res.Outputs[0].Width != 256 {
		t.Fatalf("level %d, width %d: the overviews were not used", res.Level, res.Outputs[0].Width)
	}
	if read := src.bytes.Load(); read > data/10 {
		t.Fatalf("read %d bytes of a %d-byte data file", read, data)
	}
	t.Logf("%d bytes read for a thumbnail of a 4096x4096 MRF (data file %d bytes)", src.bytes.Load(), data)
}

// A header naming a raster elsewhere on the machine renders nothing of it,
// whatever the header is named.
func TestMRFNamingFilesElsewhereIsRefused(t *testing.T) {
	secretDir, srcDir := t.TempDir(), t.TempDir()
	testenv.MRF(t, secretDir, "secret", 1024)
	header, _ := os.ReadFile(filepath.Join(secretDir, "secret.mrf"))
	evil := strings.Replace(string(header), "</Compression>", "</Compression><DataFile>"+filepath.Join(secretDir, "secret.lrc")+
		"</DataFile><IndexFile>"+filepath.Join(secretDir, "secret.idx")+"</IndexFile>", 1)
	for _, name := range []string{"evil.mrf", "evil.tif"} {
		os.WriteFile(filepath.Join(srcDir, name), []byte(evil), 0o644)
		src := &dirSource{dir: srcDir}
		res, err := Render(context.Background(), src, name, nil, Options{})
		var de *Error
		if !errors.As(err, &de) || de.Class != ClassCorrupt || res != nil {
			t.Fatalf("%s: %v, want a corrupt data error and no thumbnail", name, err)
		}
		if !strings.Contains(de.Msg, "absolute path") {
			t.Errorf("%s: message %q does not say why", name, de.Msg)
		}
	}
}
