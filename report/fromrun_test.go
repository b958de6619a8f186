package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// TestWriteRunMatchesWrite: reports built from a run's memory while its
// files are written are byte for byte those read back from the files.
func TestWriteRunMatchesWrite(t *testing.T) {
	src, err := genRun()
	if err != nil {
		t.Fatal(err)
	}
	m, err := sources.LoadManifest(filepath.Join(filepath.Dir(src), "region", "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mem := filepath.Join(t.TempDir(), "run")
	called := false
	_, err = review.Run(ctx, review.Config{Manifest: m, Rules: set, Out: mem, Workers: 2,
		CacheDir: filepath.Join(filepath.Dir(src), "cache"),
		Alongside: func(ctx context.Context, dir string, res *review.Result) error {
			called = true
			return WriteRun(ctx, dir, res, Options{Rules: set})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("a run of one shard did not call Alongside")
	}
	files := runCopy(t)
	if err := Write(ctx, files, Options{Rules: set}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.html", "report.xlsx"} {
		x, err := os.ReadFile(filepath.Join(mem, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(files, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s from memory (%d bytes) differs from %s read from the files (%d bytes)", name, len(x), name, len(y))
		}
	}
}

// TestDecodedEvidenceIsTheJSONRoundTrip: the evidence reports take from
// memory equals what decoding its JSON gives, for every kind of value.
func TestDecodedEvidenceIsTheJSONRoundTrip(t *testing.T) {
	nested := map[string]any{"n": 3, "big": int64(1) << 60, "u": uint64(1<<64 - 1), "f": 0.1, "neg": -0.0,
		"s": "张三 <&>", "list": []string{"a", "b"}, "none": []string(nil), "empty": []string{}, "any": []any{1, "x", nil, []any{}},
		"null": nil, "t": true, "m": map[string]any{}, "nilmap": map[string]any(nil)}
	cases := map[string]rules.Evidence{
		"zero": {},
		"full": {RuleID: "vehicle.owned", RuleVersion: 2, RuleSetDigest: "abc", AsOf: "2026-11-01", RefDate: "2026-11-01",
			Mode: "full", Downgraded: true, Values: nested,
			Parameters: []rules.ParamUse{{Name: "limit", Value: 100000.0, Region: "530102", From: "2026-01-01"},
				{Name: "kinds", Value: []string{"car"}}, {Name: "nil", Value: nil}},
			Facts: []rules.FactUse{{Kind: "vehicle", File: "v.parquet", Row: 7, PersonID: "x", Values: nested},
				{Kind: "police", Values: nil}}},
		"empty lists":     {Values: map[string]any{}, Parameters: []rules.ParamUse{}, Facts: []rules.FactUse{}},
		"bad utf-8 value": {Values: map[string]any{"name": "a\xffb\xfe"}},
		"bad utf-8 field": {Facts: []rules.FactUse{{File: "\xc3("}}},
		"other type":      {Values: map[string]any{"x": int32(5), "y": float32(1.5)}},
	}
	for name, ev := range cases {
		b, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		var want rules.Evidence
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, err := decodedEvidence(&ev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: from memory\n%#v\nfrom JSON\n%#v", name, got, want)
		}
	}
}
