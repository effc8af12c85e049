package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func find(runs []run, layout, where, peerPrefix string) *run {
	for i := range runs {
		if runs[i].layout == layout && runs[i].where == where && strings.HasPrefix(runs[i].peer, peerPrefix) {
			return &runs[i]
		}
	}
	return nil
}

func report(out string, runs []run, layouts []layout, latency time.Duration, bandwidth int64, pinned bool) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench` (`scripts/bench`) on %s. Every figure below comes from one run, on this machine:\n\n", time.Now().UTC().Format("2006-01-02"))
	p("- %s\n", machine())
	p("- S3: versitygw on 127.0.0.1 behind a proxy that adds %s before each response's first byte and caps each connection at %d MB/s, roughly S3 as seen from EC2; the proxy counts the bytes read.\n", latency, bandwidth>>20)
	p("- Disk: the same files on local disk (page cache warm after the first peer).\n")
	if pinned {
		p("- CPUs: the S3 server and the proxy run on the last core; every 1-vCPU peer (peer 1 included) is pinned to core 0 with `taskset`; 2-vCPU runs use both cores and share the last with the server.\n")
	}
	p("- Thumbnails are 256 px on the longest side (270×270 for peer 1, as in production), JPEG.\n\n")
	p("Peers: **1** the production method today: download the whole object (a HEAD, then ranged GETs of 8 MiB parts, one after another), `gdal_translate -of JPEG -outsize 270 270` as a subprocess, upload; one image at a time. **1b** the same with the download ten parts at once, as `aws s3 cp` does. ")
	p("**2** `gdal_translate -outsize 256 0 -b 1 -b 2 -b 3 /vsis3/...` as a subprocess per image, one at a time (with `GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`). ")
	p("**3** `vipsthumbnail --size 256` on local files (one process for all files). ")
	p("**4** quicklook's job with default settings (one render process per worker, `--read-plan auto`), as a submitted run's job runs it (`--contact-sheet page`), pinned to 1 vCPU with `taskset`, and on 2 vCPUs.\n\n")
	p("Costs are at list prices: GET and HEAD $%g, PUT and LIST $%g per 1,000 requests, a vCPU $%g an hour. **Requests / thumbnail** are the storage requests the proxy saw (every GET, HEAD, PUT and LIST, the job's listings and manifests included), plus a PUT per thumbnail for peers that write theirs locally (peer 2; every disk row), since every method must store its output. **$ / 1,000 thumbnails** prices those requests and the vCPUs held for the run's wall time (wall time × vCPUs pinned), whether computing or waiting; in-region bytes are free.\n\n",
		prices.GET, prices.PUT, prices.VCPUHour)
	p("Columns: thumbnails per second; CPU seconds per thumbnail (user + system, with child processes); MB read per thumbnail and read amplification (bytes read ÷ bytes of the resolution level a 256 px thumbnail needs, plus the TIFF headers; the whole file for JPEG), measured on the wire for S3; peak memory: the sum over all the run's processes (the job and its render processes; a peer and its gdal_translate) of their proportional set size (PSS: shared library pages divided among the processes mapping them, which is what a container's memory limit charges), sampled every 100 ms, with the plain sum of their RSS (each process counting every shared library page it maps) after it; throughput per vCPU as a multiple of peer 1's in the same run and place.\n\n")
	p("![thumbnails per second](%s)\n\n", filepath.Base(chartPath(out)))
	for _, l := range layouts {
		p("## %s\n\n%s; %d images, %.0f MB in all.\n\n", l.name, l.desc, len(l.files), float64(totalSize(l.files))/1e6)
		p("| peer | where | thumbnails/s | CPU-s / thumbnail | MB read / thumbnail | read amplification | requests / thumbnail | $ / 1,000 thumbnails | peak memory MiB: PSS (RSS summed) | per vCPU vs peer 1 | $ vs peer 1 |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var jobs []string
		for _, r := range runs {
			if r.layout != l.name {
				continue
			}
			base := find(runs, l.name, r.where, "1 ")
			ratio, costRatio := "-", "-"
			if base != nil {
				ratio = fmt.Sprintf("%.1f×", (r.perSecond()/float64(r.vcpus))/(base.perSecond()/float64(base.vcpus)))
				costRatio = fmt.Sprintf("%.2f×", r.costPerThousand()/base.costPerThousand())
			}
			reqs := "n/a"
			if r.where == "S3" {
				reqs = fmt.Sprintf("%.1f", r.requestsPerThumbnail())
			}
			read, amp := "n/a", "n/a"
			if r.bytesRead >= 0 {
				read = fmt.Sprintf("%.2f", float64(r.bytesRead)/float64(r.images)/1e6)
				amp = fmt.Sprintf("%.2f", float64(r.bytesRead)/float64(r.needed))
			}
			note := ""
			if r.note != "" {
				note = " (" + r.note + ")"
			}
			p("| %s%s | %s | %.2f | %.3f | %s | %s | %s | %.4f | %.0f (%.0f) | %s | %s |\n", r.peer, note, r.where, r.perSecond(), r.cpu.Seconds()/float64(r.images), read, amp,
				reqs, r.costPerThousand(), float64(r.pssKB)/1024, float64(r.rssKB)/1024, ratio, costRatio)
			if r.objects != nil && base != nil {
				jobs = append(jobs, fmt.Sprintf("%s: %.1f requests and $%.4f per 1,000 thumbnails (%.2f× peer 1)", r.peer,
					float64(r.objects.Total())/float64(r.images), r.objectsCostPerThousand(), r.objectsCostPerThousand()/base.costPerThousand()))
			}
		}
		if len(jobs) > 0 {
			p("\nWithout the job's own listings and writes (its manifest, summary and contact-sheet page: 7 requests a job, spread over the %d images of this layout here, over thousands in a NAIP prefix): %s.\n", len(l.files), strings.Join(jobs, "; "))
		}
		p("\n")
	}
	p("## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	check := func(name string, ok bool, measured string) {
		mark := "yes"
		if !ok {
			mark = "**no** (see below)"
		}
		p("| %s | %s | %s |\n", name, measured, mark)
	}
	perVCPU := func(r *run) float64 { return r.perSecond() / float64(r.vcpus) }
	// Against peer 1 in the same run, S3, 1 vCPU each: dollars per thumbnail
	// at most 1/costDiv of its, speed per vCPU at least speedX its.
	for _, t := range []struct {
		layout          string
		costDiv, speedX float64
		minFiles        int
	}{{"striped", 3, 3, 0}, {"tiled", 2, 3, 0}, {"cog", 3.5, 30, 30}, {"photo", 1, 3, 0}} {
		q, base := find(runs, t.layout, "S3", "4 quicklook job, 1"), find(runs, t.layout, "S3", "1 ")
		if q == nil || base == nil {
			continue
		}
		cost := q.costPerThousand() / base.costPerThousand()
		check(fmt.Sprintf("%s: at most 1/%g of peer 1's $ per thumbnail", t.layout, t.costDiv), cost <= 1/t.costDiv,
			fmt.Sprintf("%.2f× ($%.4f vs $%.4f per 1,000)", cost, q.costPerThousand(), base.costPerThousand()))
		x := perVCPU(q) / perVCPU(base)
		files := ""
		if t.minFiles > 0 {
			files = fmt.Sprintf(" on at least %d files (%d)", t.minFiles, q.images)
		}
		check(fmt.Sprintf("%s: at least %g× peer 1's speed per vCPU%s", t.layout, t.speedX, files), x >= t.speedX && q.images >= t.minFiles, fmt.Sprintf("%.1f×", x))
	}
	if q := find(runs, "cog", "S3", "4 quicklook job, 1"); q != nil {
		gets := float64(q.requests.GET) / float64(q.images)
		check("COG: one GET per NAIP-sized thumbnail (the header's first read takes the overview after it)", gets <= 1.1, fmt.Sprintf("%.2f", gets))
		per := float64(q.bytesRead) / float64(q.images) / 1e6
		check("COG: at most 2.2 MB read per NAIP-sized thumbnail", per <= 2.2, fmt.Sprintf("%.2f MB", per))
	}
	for _, l := range layouts {
		for _, where := range []string{"S3", "disk"} {
			if q := find(runs, l.name, where, "4 quicklook job, 2"); q != nil {
				check(fmt.Sprintf("%s (%s): peak memory under 512 MiB at the default concurrency", l.name, where), q.pssKB < 512*1024, fmt.Sprintf("%.0f MiB PSS (%.0f MiB RSS summed)", float64(q.pssKB)/1024, float64(q.rssKB)/1024))
			}
		}
		if q, p2 := find(runs, l.name, "S3", "4 quicklook job, 1"), find(runs, l.name, "S3", "2 "); q != nil && p2 != nil {
			check(fmt.Sprintf("%s: faster than peer 2 (S3, 1 vCPU each)", l.name), q.perSecond() > p2.perSecond(), fmt.Sprintf("%.2f vs %.2f /s", q.perSecond(), p2.perSecond()))
		}
		if q, p3 := find(runs, l.name, "disk", "4 quicklook job, 1"), find(runs, l.name, "disk", "3 "); q != nil && p3 != nil {
			check(fmt.Sprintf("%s: faster than peer 3 (disk, 1 vCPU each)", l.name), q.perSecond() > p3.perSecond(), fmt.Sprintf("%.2f vs %.2f /s", q.perSecond(), p3.perSecond()))
		}
	}
	if notes, err := os.ReadFile("scripts/bench/notes.md"); err == nil {
		p("\n%s", notes)
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(chartPath(out), []byte(chart(runs, layouts)), 0o644)
}

func totalSize(files []string) int64 {
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// chart draws thumbnails per second, per layout and peer, S3 runs, as SVG
// (log scale: the peers differ by orders of magnitude).
func chart(runs []run, layouts []layout) string {
	type bar struct {
		label string
		v     float64
	}
	colors := []string{"#9e9e9e", "#ffb74d", "#81c784", "#64b5f6", "#ba68c8", "#1565c0"}
	var groups [][]bar
	for _, l := range layouts {
		var g []bar
		for _, r := range runs {
			// S3 runs, and on disk vipsthumbnail beside quicklook on disk.
			if r.layout == l.name && (r.where == "S3" || strings.HasPrefix(r.peer, "3 ") || strings.HasPrefix(r.peer, "4 quicklook job, 1")) {
				g = append(g, bar{strings.SplitN(r.peer, " (", 2)[0] + " [" + r.where + "]", r.perSecond()})
			}
		}
		groups = append(groups, g)
	}
	const w, h, left, top, bottom = 900, 420, 60, 30, 60
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11"><rect width="100%%" height="100%%" fill="white"/>`, w, h+120)
	fmt.Fprintf(&s, `<text x="%d" y="18" font-size="14">Thumbnails per second (log scale), per layout</text>`, left)
	maxV, minV := 1.0, 0.01
	for _, g := range groups {
		for _, b := range g {
			maxV = maxF(maxV, b.v)
		}
	}
	logMax, logMin := log10(maxV*1.5), log10(minV)
	y := func(v float64) float64 {
		v = maxF(v, minV)
		return top + (h-top-bottom)*(1-(log10(v)-logMin)/(logMax-logMin))
	}
	for _, tick := range []float64{0.01, 0.1, 1, 10, 100, 1000} {
		if tick > maxV*1.5 {
			break
		}
		fmt.Fprintf(&s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`, left, w-10, y(tick), y(tick), left-5, y(tick)+4, tick)
	}
	gw := float64(w-left-20) / float64(len(groups))
	for gi, g := range groups {
		x0 := float64(left) + gw*float64(gi) + 10
		bw := (gw - 20) / float64(max(len(g), 1))
		for bi, b := range g {
			x := x0 + bw*float64(bi)
			fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.2f/s</title></rect>`,
				x, y(b.v), bw-2, float64(h-bottom)-y(b.v), colors[bi%len(colors)], b.label, b.v)
			fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">%.2g</text>`, x+bw/2-1, y(b.v)-3, b.v)
		}
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle" font-size="12">%s</text>`, x0+(gw-20)/2, h-bottom+16, layouts[gi].name)
	}
	if len(groups) > 0 {
		for bi, b := range groups[0] {
			fmt.Fprintf(&s, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`, left, h+bi*16, colors[bi%len(colors)], left+15, h+bi*16+9, b.label)
		}
	}
	s.WriteString(`</svg>`)
	return s.String()
}

func maxF(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func log10(v float64) float64 { return math.Log10(v) }
