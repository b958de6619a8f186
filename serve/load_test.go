package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestLoad measures checks/s and latency on loopback at 1, 8 and 64
// concurrent clients, households of 1 to 5 members, each level bounded by
// 4,000 checks and 8 seconds. It runs only with HEDUI_LOAD=1 (it takes the
// machine's cores for half a minute):
//
//	HEDUI_LOAD=1 go test ./serve/ -run TestLoad -v
//
// With HEDUI_LOAD_PROFILE=DIR it also writes the CPU, block and mutex
// profiles of the 8-client level (client and server share the process) to
// DIR/cpu.pprof, block.pprof and mutex.pprof.
func TestLoad(t *testing.T) {
	if os.Getenv("HEDUI_LOAD") != "1" {
		t.Skip("set HEDUI_LOAD=1 to run the load benchmark")
	}
	e := newEnv(t)
	var bodies [][]byte
	for _, h := range e.r.households {
		if n := len(h.members); n >= 1 && n <= 5 {
			b, _ := json.Marshal(request(h, "SQ-load"))
			bodies = append(bodies, b)
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tok := "Bearer " + e.tokens["intake1"]
	one := func(b []byte) error {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/checks", bytes.NewReader(b))
		req.Header.Set("Authorization", tok)
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
	for i := range 200 { // warm the caches
		if err := one(bodies[i%len(bodies)]); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		c := e.srv.checks
		t.Logf("checks.jsonl: %d checks, %d bytes each", len(c.list), c.size/int64(len(c.list)))
	}()
	for _, clients := range []int{1, 8, 64} {
		const maxChecks, maxTime = 4000, 8 * time.Second
		var next, errs atomic.Int64
		lat := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		stopProfile := startProfiles(t, clients == 8)
		cpu0 := cpuTime()
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := next.Add(1)
					if n > maxChecks || time.Since(start) > maxTime {
						return
					}
					t0 := time.Now()
					if err := one(bodies[int(n)%len(bodies)]); err != nil {
						errs.Add(1)
						t.Logf("error: %v", err)
						continue
					}
					lat[c] = append(lat[c], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		cpu := cpuTime() - cpu0
		stopProfile()
		all := slices.Concat(lat...)
		slices.Sort(all)
		if len(all) == 0 {
			t.Fatal("no check answered")
		}
		t.Logf("clients %2d: %5d checks in %.2fs = %6.0f checks/s, p50 %v, p99 %v, errors %d; CPU %v per check (client and server)", clients, len(all), took.Seconds(),
			float64(len(all))/took.Seconds(), all[len(all)/2].Round(10*time.Microsecond), all[len(all)*99/100].Round(10*time.Microsecond), errs.Load(),
			(cpu / time.Duration(len(all))).Round(time.Microsecond))
		m := e.srv.metrics
		if r := m.rounds.Swap(0); r > 0 {
			t.Logf("clients %2d: %d commit rounds, %.1f checks and %v each", clients, r,
				float64(m.roundChecks.Swap(0))/float64(r), (time.Duration(m.roundNanos.Swap(0)) / time.Duration(r)).Round(time.Microsecond))
		}
		if errs.Load() > 0 {
			t.Errorf("%d errors at %d clients", errs.Load(), clients)
		}
	}
}

// startProfiles starts the CPU, block and mutex profiles when on and
// HEDUI_LOAD_PROFILE names a folder; the function it returns writes them.
func startProfiles(t *testing.T, on bool) func() {
	dir := os.Getenv("HEDUI_LOAD_PROFILE")
	if !on || dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		t.Fatal(err)
	}
	runtime.SetBlockProfileRate(10_000) // a sample per 10 µs blocked
	runtime.SetMutexProfileFraction(5)
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		for _, name := range []string{"block", "mutex"} {
			f, err := os.Create(filepath.Join(dir, name+".pprof"))
			if err != nil {
				t.Fatal(err)
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}
}

// cpuTime is the CPU time (user and system) the process used so far: per
// check, a figure the other work on a shared machine does not change much.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
