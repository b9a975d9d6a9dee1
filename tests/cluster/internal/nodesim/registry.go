package nodesim

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// registry models the one registry every pull goes to: a latency before bytes move, a total
// bandwidth shared fairly by all pulls in flight, a ceiling per pull, and an optional limit of
// concurrent pulls above which a pull is refused (toomanyrequests). Rates are in bytes per
// wall-clock second (the scenario's rates times the time scale).
type registry struct {
	bandwidth float64 // bytes/s, 0 = unlimited
	perPull   float64 // bytes/s, 0 = unlimited
	latency   time.Duration
	maxPulls  int

	mu        sync.Mutex
	active    int // pulls counted against maxPulls (from request to end)
	transfers map[*transfer]struct{}
	wake      chan struct{}
}

type transfer struct {
	remaining float64
	done      chan struct{}
}

var errTooManyRequests = errors.New("toomanyrequests")

func newRegistry(bandwidth, perPull float64, latency time.Duration, maxPulls int) *registry {
	r := &registry{bandwidth: bandwidth, perPull: perPull, latency: latency, maxPulls: maxPulls,
		transfers: map[*transfer]struct{}{}, wake: make(chan struct{}, 1)}
	go r.loop()
	return r
}

// begin counts a pull in; it fails when the concurrency limit is reached.
func (r *registry) begin() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxPulls > 0 && r.active >= r.maxPulls {
		return errTooManyRequests
	}
	r.active++
	return nil
}

func (r *registry) end() {
	r.mu.Lock()
	r.active--
	r.mu.Unlock()
}

// inFlight is the number of pulls counted in.
func (r *registry) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// waitLatency sleeps the per-pull latency.
func (r *registry) waitLatency(ctx context.Context) error {
	return sleep(ctx, r.latency)
}

// move transfers size bytes at the pull's fair share; it returns when they have moved.
func (r *registry) move(ctx context.Context, size int64) error {
	if size <= 0 {
		return nil
	}
	if r.bandwidth <= 0 && r.perPull <= 0 {
		return nil
	}
	t := &transfer{remaining: float64(size), done: make(chan struct{})}
	r.mu.Lock()
	r.transfers[t] = struct{}{}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.transfers, t)
		r.mu.Unlock()
		return ctx.Err()
	}
}

// rate is the bytes/s each of n transfers gets: an equal share of the bandwidth, capped per pull.
func (r *registry) rate(n int) float64 {
	share := math.Inf(1)
	if r.bandwidth > 0 {
		share = r.bandwidth / float64(n)
	}
	if r.perPull > 0 && r.perPull < share {
		share = r.perPull
	}
	return share
}

// loop advances every transfer in small steps of wall-clock time (a fluid model).
func (r *registry) loop() {
	const step = 10 * time.Millisecond
	last := time.Now()
	for {
		r.mu.Lock()
		n := len(r.transfers)
		r.mu.Unlock()
		if n == 0 {
			<-r.wake
			last = time.Now()
			continue
		}
		time.Sleep(step)
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		r.mu.Lock()
		n = len(r.transfers)
		if n > 0 {
			moved := r.rate(n) * dt
			for t := range r.transfers {
				t.remaining -= moved
				if t.remaining <= 0 {
					delete(r.transfers, t)
					close(t.done)
				}
			}
		}
		r.mu.Unlock()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
