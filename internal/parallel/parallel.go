// Package parallel runs the iterations of a loop a bounded number at a time:
// reads of an image's ranges, header checks, copies and writes of many
// objects, listings of many prefixes.
package parallel

import "sync"

// Each calls fn(i) for every i in [0, n), at most limit at once (at least
// one), and returns when every call has.
func Each(n, limit int, fn func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// EachErr is Each for calls that can fail: every call runs, and the error
// of the first in index order is returned.
func EachErr(n, limit int, fn func(i int) error) error {
	errs := make([]error, n)
	Each(n, limit, func(i int) { errs[i] = fn(i) })
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
