package main

import (
	"runtime/debug"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "6GiB": 6 << 30, "6G": 6 << 30, "512MiB": 512 << 20, "1.5g": 3 << 29, "1048576": 1 << 20} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"six", "-1G", "0", "G"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
}

// collectNearBudget turns pacing off and sets the limit, unless the
// environment already tunes the collector.
func TestCollectNearBudget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	collectNearBudget(1 << 30)
	if p := debug.SetGCPercent(100); p != -1 {
		t.Errorf("GC percent %d after collectNearBudget, want -1 (off)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<30 {
		t.Errorf("memory limit %d, want %d", l, 1<<30)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	collectNearBudget(1 << 30)
	if p := debug.SetGCPercent(150); p != 150 {
		t.Errorf("GOGC=150 in the environment: GC percent %d, want 150 kept", p)
	}
}

// paceIncremental raises GOGC for an incremental run, unless the
// environment already tunes the collector.
func TestPaceIncremental(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	paceIncremental()
	if p := debug.SetGCPercent(100); p != incrementalGCPercent {
		t.Errorf("GC percent %d after paceIncremental, want %d", p, incrementalGCPercent)
	}

	t.Setenv("GOMEMLIMIT", "2GiB")
	paceIncremental()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOMEMLIMIT in the environment: GC percent %d, want 100 kept", p)
	}
}
