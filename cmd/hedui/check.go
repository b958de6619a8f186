package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hedui/hedui/review"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
	"github.com/hedui/hedui/store"
)

// memberFlags collects repeated --member values.
type memberFlags []string

func (m *memberFlags) String() string     { return strings.Join(*m, " ") }
func (m *memberFlags) Set(v string) error { *m = append(*m, v); return nil }

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	dir := fs.String("index", "", "the index folder")
	rulesFile := fs.String("rules", "", "a rule set YAML file (default: the embedded default rule set)")
	var members memberFlags
	fs.Var(&members, "member", "a member as ID[,name,relation] (relation head|spouse|child|parent|other); repeat per member, the head first")
	region := fs.String("region", "", "6-digit county code of the household")
	area := fs.String("area", "", "urban or rural")
	assistance := fs.String("assistance", "dibao", "dibao, tekun or edge")
	auth := fs.String("authorization", "", "the signed authorization (授权书) reference")
	household := fs.String("household", "", "household ID to show (default: APPLICANT)")
	asOf := fs.String("as-of", "", "check as of this date (YYYY-MM-DD; default: today)")
	applied := fs.String("application-date", "", "the application date (YYYY-MM-DD; default: the as-of date)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || len(members) == 0 || *region == "" || *area == "" || *auth == "" {
		fmt.Fprintln(stderr, "hedui check needs --index, --member (at least one), --region, --area and --authorization")
		return errUsage
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	if *asOf != "" {
		t, err := time.Parse(time.DateOnly, *asOf)
		if err != nil {
			return fmt.Errorf("--as-of %q: want a date as YYYY-MM-DD", *asOf)
		}
		day = t
	}
	appDay := day
	if *applied != "" {
		t, err := time.Parse(time.DateOnly, *applied)
		if err != nil {
			return fmt.Errorf("--application-date %q: want a date as YYYY-MM-DD", *applied)
		}
		appDay = t
	}
	if *household == "" {
		*household = "APPLICANT"
	}
	rows, err := checkRows(members, *household, *region, *area, *assistance, *auth, appDay)
	if err != nil {
		return err
	}
	set, err := loadRules(*rulesFile)
	if err != nil {
		return err
	}
	db, err := store.Open(*dir, store.Options{Logger: indexLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.View()
	if err != nil {
		return err
	}
	defer v.Close()
	if v.Catalog().Roster() == nil {
		return fmt.Errorf("index %s has no roster: build it with hedui index build", *dir)
	}
	start := time.Now()
	_, flags, err := review.CheckHousehold(v, set, day, rows)
	if err != nil {
		return err
	}
	printCheck(stdout, *household, flags, day, appDay, time.Since(start))
	return nil
}

// checkRows turns --member values into roster rows of an applying household.
func checkRows(members []string, id, region, area, assistance, auth string, applied time.Time) ([]*sources.RosterMember, error) {
	if !slicesContains([]string{"urban", "rural"}, area) {
		return nil, fmt.Errorf("--area %q; allowed: urban, rural", area)
	}
	if !slicesContains([]string{"dibao", "tekun", "edge"}, assistance) {
		return nil, fmt.Errorf("--assistance %q; allowed: dibao, tekun, edge", assistance)
	}
	if len(region) != 6 {
		return nil, fmt.Errorf("--region %q: want a 6-digit county code", region)
	}
	var rows []*sources.RosterMember
	for i, mv := range members {
		parts := strings.Split(mv, ",")
		if len(parts) > 3 {
			return nil, fmt.Errorf("--member %q: want ID[,name,relation]", personid.MaskString(parts[0]))
		}
		rel := "other"
		if i == 0 {
			rel = "head"
		}
		name := ""
		if len(parts) > 1 {
			name = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 && strings.TrimSpace(parts[2]) != "" {
			rel = strings.TrimSpace(parts[2])
			if !slicesContains([]string{"head", "spouse", "child", "parent", "other"}, rel) {
				return nil, fmt.Errorf("--member %d relation %q; allowed: head, spouse, child, parent, other", i+1, rel)
			}
		}
		raw := strings.TrimSpace(parts[0])
		p := personid.Parse(raw)
		pid := raw
		if p.Reason == personid.ReasonNone {
			pid = p.Key.String()
		}
		rm := &sources.RosterMember{HouseholdID: id, Relation: rel, Area: area, Assistance: assistance, Status: "applicant",
			ApplicationDate: applied, AuthorizationRef: auth}
		rm.Origin = sources.Origin{Key: p.Key, PersonID: pid, Name: name, Region: region, Kind: sources.KindRoster,
			File: "command line", Row: int64(i + 1)}
		if p.Reason != personid.ReasonNone {
			rm.Key = 0
		}
		rows = append(rows, rm)
	}
	return rows, nil
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// outcomeRank orders outcomes from the one that decides the verdict.
var outcomeRank = map[rules.Outcome]int{"ineligible": 0, "insufficient": 1, "review": 2, "adjust": 3, "omission": 4, "info": 5}

func printCheck(w io.Writer, id string, flags []rules.Flag, asOf, applied time.Time, took time.Duration) {
	verdict := "pass: no source shows a reason to refuse (无不符合条件情形)"
	if len(flags) > 0 {
		worst := flags[0].Outcome
		for _, f := range flags {
			if outcomeRank[f.Outcome] < outcomeRank[worst] {
				worst = f.Outcome
			}
		}
		verdict = string(worst)
	}
	fmt.Fprintf(w, "household %s, as of %s, application %s: %s (%d flags, checked in %v)\n",
		id, asOf.Format(time.DateOnly), applied.Format(time.DateOnly), verdict, len(flags), took.Round(time.Microsecond))
	for _, f := range flags {
		who := "household"
		if f.PersonID != "" {
			who = personid.MaskString(f.PersonID)
		}
		fmt.Fprintf(w, "\n%s  %s  %s\n  %s\n  basis: %s\n", f.Outcome, f.RuleID, who, f.Message, f.Basis)
		for _, fu := range f.Evidence.Facts {
			fmt.Fprintf(w, "  evidence: %s %s row %d (snapshot %s, matched by %s) %s\n", fu.Kind, fu.File, fu.Row, fu.Snapshot, fu.Match, personid.MaskString(fu.PersonID))
		}
		for _, p := range f.Evidence.Parameters {
			fmt.Fprintf(w, "  parameter: %s = %v (%s, from %s; %s)\n", p.Name, p.Value, p.Region, p.From, p.Reference)
		}
	}
}
