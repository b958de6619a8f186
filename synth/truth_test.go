package synth

// An independent, small evaluator of docs/default-rules.md (full mode, the
// default parameters) over the files as written. It re-derives truth.csv
// from the files alone.

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

type tMember struct {
	pid, name, relation string
	filed               bool
	region              string
}

type tHousehold struct {
	id, area, assistance, status string
	members                      []tMember
}

type tWorld struct {
	asOf       time.Time
	households []*tHousehold
	onRoster   map[string][]string           // pid → household ids
	byID       map[string]map[string][]canon // kind → pid → rows
	byNameDOB  map[string][]canon            // vehicles with invalid IDs: name|dob|region → rows
	hukou      map[string][]canon            // police rows by hukou_no (valid IDs only)
	police     map[string]canon
}

func loadWorld(t *testing.T, dir string) *tWorld {
	t.Helper()
	m := readManifest(t, dir)
	asOf, err := time.Parse("2006-01-02", m.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	w := &tWorld{asOf: asOf, onRoster: map[string][]string{}, byID: map[string]map[string][]canon{},
		byNameDOB: map[string][]canon{}, hukou: map[string][]canon{}, police: map[string]canon{}}
	hh := map[string]*tHousehold{}
	for _, r := range readParquet(t, filepath.Join(dir, m.Roster)) {
		pid, reason := testParseID(r["person_id"])
		if reason != "" {
			t.Fatalf("roster: invalid person_id %q (%s)", r["person_id"], reason)
		}
		h := hh[r["household_id"]]
		if h == nil {
			h = &tHousehold{id: r["household_id"], area: r["area"], assistance: r["assistance"], status: r["status"]}
			hh[h.id] = h
			w.households = append(w.households, h)
		}
		h.members = append(h.members, tMember{pid: pid, name: r["name"], relation: r["relation"],
			filed: r["relative_filed"] == "true", region: r["region_code"]})
		w.onRoster[pid] = append(w.onRoster[pid], h.id)
	}
	keyCol := map[string]string{"vehicle": "owner_id", "realestate": "owner_id", "court": "party_id"}
	for _, s := range m.Sources {
		k := keyCol[s.Kind]
		if k == "" {
			k = "person_id"
		}
		byID := map[string][]canon{}
		w.byID[s.Kind] = byID
		for _, c := range readSource(t, dir, s) {
			pid, reason := testParseID(c[k])
			if reason != "" {
				if s.Kind == "vehicle" && c["name"] != "" {
					key := c["name"] + "|" + c["birth_date"] + "|" + c["region_code"]
					w.byNameDOB[key] = append(w.byNameDOB[key], c)
				}
				continue
			}
			byID[pid] = append(byID[pid], c)
			if s.Kind == "police" {
				c["person_id"] = pid
				w.hukou[c["hukou_no"]] = append(w.hukou[c["hukou_no"]], c)
				w.police[pid] = c
			}
		}
	}
	return w
}

func (w *tWorld) rows(kind, pid string) []canon { return w.byID[kind][pid] }

func tVehicle(v canon) string {
	typ := v["vehicle_type"]
	if v["status"] != "normal" || v["disabled"] == "是" || strings.HasPrefix(typ, "M2") ||
		strings.HasPrefix(typ, "N") || strings.HasPrefix(typ, "T") {
		return ""
	}
	switch p := v.f("price"); {
	case p == 0:
		return "review"
	case p > 30000:
		return "ineligible"
	}
	return ""
}

func tVehicles(vs []canon) string {
	out := ""
	for _, v := range vs {
		if o := tVehicle(v); o == "ineligible" {
			return o
		} else if o != "" {
			out = o
		}
	}
	return out
}

func tBusiness(bs []canon) string {
	out := ""
	for _, b := range bs {
		if b["status"] != "active" {
			continue
		}
		if (b["role"] == "legal_rep" || b["role"] == "shareholder") && b.f("subscribed_capital") > 100000 {
			return "ineligible"
		}
		if b["role"] == "sole_trader" {
			out = "review"
		}
	}
	return out
}

func tRealEstate(rs []canon, size int) bool {
	units := map[string]bool{}
	var area float64
	for _, r := range rs {
		if r["status"] != "normal" {
			continue
		}
		if r["usage"] == "commercial" || r["usage"] == "office" {
			return true
		}
		if r["usage"] == "residential" {
			units[r["cert_no"]] = true
			share := r.f("share")
			if share == 0 {
				share = 1
			}
			area += r.f("area_m2") * share
		}
	}
	return len(units) >= 2 && area/float64(size) > 45
}

func (w *tWorld) memberIncome(pid string) float64 {
	var wage float64
	active := false
	for _, p := range w.rows("payroll", pid) {
		if p["status"] == "active" {
			wage += p.f("monthly_salary")
			active = true
		}
	}
	if !active {
		for _, f := range w.rows("fund", pid) {
			if f["account_status"] == "active" {
				wage += f.f("monthly_deposit") / (2 * 0.12)
			}
		}
	}
	for _, p := range w.rows("pension", pid) {
		if p["state"] == "receiving" && (p["scheme"] == "employee" || p["scheme"] == "civil-service") {
			wage += p.f("monthly_amount")
		}
	}
	lo := w.asOf.AddDate(0, -12, 0)
	var med float64
	for _, m := range w.rows("medical", pid) {
		if d := m.d("settle_date"); d.After(lo) && !d.After(w.asOf) {
			med += m.f("self_paid")
		}
	}
	return wage - med/12
}

func (w *tWorld) evaluate() []string {
	var out []string
	emit := func(h, p, rule, outcome string) { out = append(out, h+","+p+","+rule+","+outcome) }
	for _, h := range w.households {
		std := 375.0
		if h.area == "urban" {
			std = 640.0
		}
		size := len(h.members)
		on := map[string]bool{}
		var income, deposits float64
		var re []canon
		dead := 0
		for _, m := range h.members {
			on[m.pid] = true
			income += w.memberIncome(m.pid)
			for _, d := range w.rows("deposit", m.pid) {
				deposits += d.f("balance")
			}
			re = append(re, w.rows("realestate", m.pid)...)
			if w.police[m.pid]["status"] == "deceased" {
				dead++
			}
		}
		perCapita := income / float64(size)
		for _, m := range h.members {
			pol := w.police[m.pid]
			if o := tVehicles(w.rows("vehicle", m.pid)); o != "" {
				emit(h.id, m.pid, "vehicle.owned", o)
			} else {
				dob := m.pid[6:10] + "-" + m.pid[10:12] + "-" + m.pid[12:14]
				all := append(w.rows("vehicle", m.pid), w.byNameDOB[m.name+"|"+dob+"|"+m.region]...)
				if tVehicles(all) != "" {
					emit(h.id, m.pid, "vehicle.owned", "review")
				}
			}
			if o := tBusiness(w.rows("business", m.pid)); o != "" {
				emit(h.id, m.pid, "business.owner", o)
			}
			for _, p := range w.rows("payroll", m.pid) {
				if p["status"] == "active" {
					emit(h.id, m.pid, "payroll.member", "ineligible")
					break
				}
			}
			if pol["status"] == "deceased" {
				if dead == size {
					emit(h.id, m.pid, "member.deceased", "ineligible")
				} else {
					emit(h.id, m.pid, "member.deceased", "adjust")
				}
			}
			if pol["relation_to_head"] == "head" {
				for _, q := range w.hukou[pol["hukou_no"]] {
					if !on[q["person_id"]] && q["relation_to_head"] == "spouse" && q["status"] == "normal" {
						emit(h.id, m.pid, "member.hidden", "review")
						break
					}
				}
			}
			for _, c := range w.rows("court", m.pid) {
				if d := c.d("effective_date"); c["case_type"] == "divorce" && d.After(w.asOf.AddDate(0, -12, 0)) && !d.After(w.asOf) {
					emit(h.id, m.pid, "divorce.recent", "review")
					break
				}
			}
			if len(w.onRoster[m.pid]) > 1 {
				emit(h.id, m.pid, "roster.duplicate", "review")
			}
			strip := strings.NewReplacer(" ", "", "　", "")
			if pol != nil && strip.Replace(pol["name"]) != strip.Replace(m.name) {
				emit(h.id, m.pid, "identity.mismatch", "review")
			}
			if !m.filed {
				staff := len(w.rows("staff", m.pid)) > 0
				for _, q := range w.hukou[pol["hukou_no"]] {
					if !on[q["person_id"]] && len(w.rows("staff", q["person_id"])) > 0 {
						staff = true
					}
				}
				if staff {
					emit(h.id, m.pid, "relative.unfiled", "review")
				}
			}
			if h.assistance == "edge" && perCapita < 1.5*std {
				for _, d := range w.rows("disability", m.pid) {
					g := int(d.f("grade"))
					if g <= 2 || (g <= 3 && (d["category"] == "intellectual" || d["category"] == "mental")) {
						emit(h.id, m.pid, "single.eligible", "info")
						break
					}
				}
			}
		}
		if tRealEstate(re, size) {
			emit(h.id, "", "realestate.excess", "ineligible")
		}
		if h.assistance == "dibao" && perCapita > std {
			o := "ineligible"
			if h.status == "recipient" && perCapita <= 1.5*std {
				o = "adjust"
			}
			emit(h.id, "", "income.excess", o)
		}
		if h.assistance != "edge" && deposits/float64(size) > 24*std {
			emit(h.id, "", "assets.excess", "ineligible")
		}
	}
	// Omission candidates.
	cands := map[string]bool{}
	for _, k := range []string{"poverty", "disability"} {
		for pid := range w.byID[k] {
			if len(w.onRoster[pid]) == 0 {
				cands[pid] = true
			}
		}
	}
	for pid := range cands {
		q := false
		for _, p := range w.rows("poverty", pid) {
			q = q || p["status"] == "monitored"
		}
		for _, d := range w.rows("disability", pid) {
			q = q || d.f("grade") <= 2
		}
		if !q {
			continue
		}
		st := w.police[pid]["status"]
		payroll := false
		for _, p := range w.rows("payroll", pid) {
			payroll = payroll || p["status"] == "active"
		}
		if st == "deceased" || st == "cancelled" || st == "moved" || payroll ||
			tVehicles(w.rows("vehicle", pid)) != "" || tBusiness(w.rows("business", pid)) != "" ||
			tRealEstate(w.rows("realestate", pid), 1) {
			continue
		}
		emit("", pid, "omission.candidate", "omission")
	}
	sort.Strings(out)
	return out
}

func readTruth(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) == 0 || out[0] != "household_id,person_id,rule_id,outcome" {
		t.Fatalf("truth.csv header: %q", out[:min(1, len(out))])
	}
	return out[1:]
}
