package store

import (
	"testing"

	"github.com/hedui/hedui/sources"
)

// TestColDirRoundTrip: a chunk directory reads back as written, and a
// flipped byte, a cut or another generation's name is refused.
func TestColDirRoundTrip(t *testing.T) {
	chunks := []colChunk{
		{seq0: 0, rows: 64, counts: sources.KeyCounts{Rows: 64, Valid: 60, From15: 2, ByReason: [8]int64{1: 3, 4: 1}}, fps: []uint64{1, 2, 3}},
		{seq0: 64, rows: 10, counts: sources.KeyCounts{Rows: 10, Valid: 10}, fps: []uint64{4, 5, 6}},
	}
	b := encodeColDir(7, 42, 74, 3, chunks)
	rows, cols, got, err := decodeColDir(b, 7, 42)
	if err != nil || rows != 74 || cols != 3 || len(got) != 2 {
		t.Fatalf("decoded %d rows, %d columns, %d chunks: %v", rows, cols, len(got), err)
	}
	for i := range chunks {
		w, g := chunks[i], got[i]
		if w.seq0 != g.seq0 || w.rows != g.rows || w.counts != g.counts || len(g.fps) != 3 || g.fps[2] != w.fps[2] {
			t.Fatalf("chunk %d: %+v, want %+v", i, g, w)
		}
	}
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x40
		if _, _, _, err := decodeColDir(bad, 7, 42); err == nil {
			t.Fatalf("a flipped byte at %d went unnoticed", i)
		}
	}
	if _, _, _, err := decodeColDir(b[:len(b)-1], 7, 42); err == nil {
		t.Fatal("a cut directory went unnoticed")
	}
	if _, _, _, err := decodeColDir(b, 7, 43); err == nil {
		t.Fatal("another generation's directory was taken")
	}
}

// FuzzDecodeColDir: whatever a damaged directory file holds, decoding it
// returns an error or chunks that encode back to the same bytes.
func FuzzDecodeColDir(f *testing.F) {
	f.Add(encodeColDir(1, 2, 10, 2, []colChunk{{seq0: 0, rows: 10, fps: []uint64{9, 8}}}))
	f.Add([]byte("HDC1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, cols, chunks, err := decodeColDir(b, 1, 2)
		if err != nil {
			return
		}
		if again := encodeColDir(1, 2, rows, cols, chunks); string(again) != string(b) {
			t.Fatalf("decoded directory encodes to other bytes")
		}
	})
}
