package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the columns of an export.
var csvHeader = []string{"seq", "time", "user", "role", "action", "status", "check", "household", "authorization_ref",
	"rule_set", "snapshots", "verdict", "detail", "prev", "hash"}

func exportCSV(r io.Reader, from, to time.Time, w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("\ufeff") // Excel reads UTF-8 with a byte-order mark
	cw := csv.NewWriter(bw)
	cw.Write(csvHeader)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("line %d: not an audit entry (%v); run hedui audit verify", line, err)
		}
		if e.Time.Before(from) || !e.Time.Before(to) {
			continue
		}
		cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.Format(time.RFC3339Nano), e.User, e.Role, e.Action,
			strconv.Itoa(e.Status), e.Check, e.Household, e.AuthorizationRef, e.RuleSet, snapshotText(e.Snapshots),
			e.Verdict, e.Detail, e.Prev, e.Hash})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// snapshotText is "kind=date" pairs in kind order, separated by spaces.
func snapshotText(m map[string]string) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}
