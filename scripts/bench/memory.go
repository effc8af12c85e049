package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"quicklook/internal/proctree"
)

// peakMemory samples the memory of a process and all its descendants every
// interval until stop is closed, and returns the peaks of the sums of their
// RSS (shared library pages counted once per process) and of their PSS
// (shared pages divided among the processes mapping them: what a container's
// memory limit charges, page cache aside), in KiB.
func peakMemory(root int, interval time.Duration, stop <-chan struct{}) (rssKB, pssKB int64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var rss, pss int64
		for _, pid := range proctree.Tree(root) {
			r, p := rollup(pid)
			rss, pss = rss+r, pss+p
		}
		rssKB, pssKB = max(rssKB, rss), max(pssKB, pss)
		select {
		case <-stop:
			return rssKB, pssKB
		case <-t.C:
		}
	}
}

// rollup reads a process's Rss and Pss in KiB.
func rollup(pid int) (rss, pss int64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Rss:":
			rss = n
		case "Pss:":
			pss = n
		}
	}
	return rss, pss
}

// coreTimes reads each core's busy and total jiffies from /proc/stat.
func coreTimes() map[string][2]int64 {
	b, _ := os.ReadFile("/proc/stat")
	out := map[string][2]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var total, idle int64
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			total += n
			if i == 3 || i == 4 { // idle, iowait
				idle += n
			}
		}
		out[f[0]] = [2]int64{total - idle, total}
	}
	return out
}

// busySince says how busy each core was since before, in percent.
func busySince(before map[string][2]int64) string {
	var parts []string
	for core, now := range coreTimes() {
		b := before[core]
		if d := now[1] - b[1]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%%", core, 100*(now[0]-b[0])/d))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
