// Package faultproxy is a TCP proxy that injects connection faults between clients and the API
// server: latency on every chunk, connection resets (TCP RST) and stalls. TLS passes through it
// untouched. Its settings come from a JSON file that it re-reads when it changes.
package faultproxy

import (
	"encoding/json"
	"log"
	"math/rand"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"drop.io/tests/cluster/internal/scenario"
)

// Faults are the current settings.
type Faults struct {
	Latency          time.Duration
	ResetProbability float64
	StallProbability float64
	StallDuration    time.Duration
}

func fromScenario(p scenario.ProxyFaults) Faults {
	f := Faults{ResetProbability: p.ResetProbability, StallProbability: p.StallProbability, StallDuration: 5 * time.Second}
	if p.Latency != nil {
		f.Latency = p.Latency.Duration
	}
	if p.StallDuration != nil {
		f.StallDuration = p.StallDuration.Duration
	}
	return f
}

// Proxy forwards connections from a listener to an upstream address.
type Proxy struct {
	upstream string
	faults   atomic.Pointer[Faults]
	log      *log.Logger

	mu    sync.Mutex
	rng   *rand.Rand
	conns int64
	reset int64
	stall int64
}

// New makes a proxy with no faults.
func New(upstream string, lg *log.Logger) *Proxy {
	p := &Proxy{upstream: upstream, log: lg, rng: rand.New(rand.NewSource(time.Now().UnixNano()))}
	p.faults.Store(&Faults{})
	return p
}

// Set replaces the faults.
func (p *Proxy) Set(f Faults) { p.faults.Store(&f) }

// WatchFile loads the faults from file now and whenever its modification time changes.
func (p *Proxy) WatchFile(file string) {
	var last time.Time
	load := func() {
		fi, err := os.Stat(file)
		if err != nil || !fi.ModTime().After(last) {
			return
		}
		last = fi.ModTime()
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		var sf scenario.ProxyFaults
		if err := json.Unmarshal(b, &sf); err != nil {
			p.log.Printf("faults file %s: %v", file, err)
			return
		}
		f := fromScenario(sf)
		p.Set(f)
		p.log.Printf("faults: latency %v, reset probability %g, stall probability %g for %v",
			f.Latency, f.ResetProbability, f.StallProbability, f.StallDuration)
	}
	load()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			load()
		}
	}()
}

func (p *Proxy) chance(prob float64) bool {
	if prob <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < prob
}

// Serve accepts connections until the listener is closed.
func (p *Proxy) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go p.handle(c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	atomic.AddInt64(&p.conns, 1)
	up, err := net.DialTimeout("tcp", p.upstream, 10*time.Second)
	if err != nil {
		p.log.Printf("upstream %s: %v", p.upstream, err)
		abort(client)
		return
	}
	var once sync.Once
	kill := func(rst bool) {
		once.Do(func() {
			if rst {
				abort(client)
				abort(up)
			} else {
				client.Close()
				up.Close()
			}
		})
	}
	go p.pump(up, client, kill)
	p.pump(client, up, kill)
}

// abort closes a connection with a TCP RST.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

type chunk struct {
	data []byte
	at   time.Time
}

// pump copies src to dst, delaying each chunk by the latency (keeping order and throughput) and
// injecting resets and stalls.
func (p *Proxy) pump(dst, src net.Conn, kill func(rst bool)) {
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32*1024)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{data: buf[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		f := p.faults.Load()
		if d := time.Until(c.at.Add(f.Latency)); d > 0 {
			time.Sleep(d)
		}
		if p.chance(f.ResetProbability) {
			atomic.AddInt64(&p.reset, 1)
			kill(true)
			break
		}
		if p.chance(f.StallProbability) {
			atomic.AddInt64(&p.stall, 1)
			time.Sleep(f.StallDuration)
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	// Drain so the reader goroutine ends.
	go func() {
		for range q {
		}
	}()
	// Either direction ending ends the connection.
	kill(false)
}

// Stats counts connections, resets and stalls so far.
func (p *Proxy) Stats() (conns, resets, stalls int64) {
	return atomic.LoadInt64(&p.conns), atomic.LoadInt64(&p.reset), atomic.LoadInt64(&p.stall)
}
