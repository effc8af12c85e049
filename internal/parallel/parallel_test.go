package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachRunsEveryIterationWithinTheLimit(t *testing.T) {
	var running, most, calls atomic.Int32
	seen := make([]atomic.Bool, 50)
	Each(len(seen), 3, func(i int) {
		calls.Add(1)
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		seen[i].Store(true)
		running.Add(-1)
	})
	for i := range seen {
		if !seen[i].Load() {
			t.Fatalf("iteration %d did not run", i)
		}
	}
	if calls.Load() != 50 || most.Load() > 3 || most.Load() < 2 {
		t.Fatalf("%d calls, at most %d at once (limit 3)", calls.Load(), most.Load())
	}
	Each(2, 0, func(int) { calls.Add(1) }) // a limit below one is one
	if calls.Load() != 52 {
		t.Fatalf("limit 0: %d calls", calls.Load()-50)
	}
}

func TestEachErrReturnsTheFirstInIndexOrder(t *testing.T) {
	var calls atomic.Int32
	errLow, errHigh := errors.New("low"), errors.New("high")
	err := EachErr(10, 4, func(i int) error {
		calls.Add(1)
		switch i {
		case 7:
			return errHigh
		case 2:
			time.Sleep(5 * time.Millisecond) // fails after 7 has
			return errLow
		}
		return nil
	})
	if err != errLow || calls.Load() != 10 {
		t.Fatalf("got %v after %d calls, want the error of iteration 2 after all 10", err, calls.Load())
	}
	if err := EachErr(3, 2, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
