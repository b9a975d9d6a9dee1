package faultproxy

import (
	"bufio"
	"io"
	"log"
	"net"
	"testing"
	"time"
)

// echo serves a line echo on loopback.
func echo(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

func proxyTo(t *testing.T, up string) (*Proxy, string) {
	p := New(up, log.New(io.Discard, "", 0))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { _ = p.Serve(l) }()
	return p, l.Addr().String()
}

func roundTrip(addr string) (time.Duration, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t0 := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, io.ErrUnexpectedEOF
	}
	return time.Since(t0), nil
}

func TestProxyForwardsAndDelays(t *testing.T) {
	p, addr := proxyTo(t, echo(t))
	if _, err := roundTrip(addr); err != nil {
		t.Fatal(err)
	}
	p.Set(Faults{Latency: 150 * time.Millisecond})
	d, err := roundTrip(addr)
	if err != nil {
		t.Fatal(err)
	}
	if d < 300*time.Millisecond { // once each way
		t.Errorf("round trip %v with 150ms latency each way", d)
	}
}

func TestProxyResets(t *testing.T) {
	p, addr := proxyTo(t, echo(t))
	p.Set(Faults{ResetProbability: 1})
	if _, err := roundTrip(addr); err == nil {
		t.Error("round trip succeeded with reset probability 1")
	}
	p.Set(Faults{})
	if _, err := roundTrip(addr); err != nil {
		t.Errorf("after the faults are off: %v", err)
	}
}

func TestProxyStalls(t *testing.T) {
	p, addr := proxyTo(t, echo(t))
	p.Set(Faults{StallProbability: 1, StallDuration: 300 * time.Millisecond})
	d, err := roundTrip(addr)
	if err != nil {
		t.Fatal(err)
	}
	if d < 600*time.Millisecond {
		t.Errorf("round trip %v with a 300ms stall each way", d)
	}
}
