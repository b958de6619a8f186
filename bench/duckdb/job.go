package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// The rules the SQL expresses, with the source kinds each reads (as in
// rules/default.yaml). The SQL of each is written from docs/default-rules.md.
const (
	ruleVehicle    = "vehicle.owned"
	ruleRealEstate = "realestate.excess"
	ruleIncome     = "income.excess"
	rulePayroll    = "payroll.member"
	ruleBusiness   = "business.owner"
)

var ruleIDs = []string{ruleVehicle, ruleRealEstate, ruleIncome, rulePayroll, ruleBusiness}

// columnsOf lists, per kind, the canonical columns the SQL reads (key excluded).
var columnsOf = map[sources.Kind][]string{
	sources.KindVehicle:    {"status", "disabled", "vehicle_type", "price"},
	sources.KindRealEstate: {"status", "usage", "cert_no", "area_m2", "share"},
	sources.KindPayroll:    {"status", "monthly_salary"},
	sources.KindFund:       {"account_status", "monthly_deposit"},
	sources.KindPension:    {"state", "scheme", "monthly_amount"},
	sources.KindMedical:    {"settle_date", "self_paid"},
	sources.KindBusiness:   {"status", "role", "subscribed_capital"},
}

// place is a (region code, area) pair of the roster, with the parameters the
// five rules use looked up for it at ref_date, as the rule engine does.
type place struct {
	Region, Area string

	VehicleLimit  float64
	Prefixes      []string
	MinUnits      float64
	AreaLimit     float64 // realestate_area_factor × housing_floor_m2
	CapitalLimit  float64
	FundRate      float64
	MedWindow     float64
	MedStart      time.Time // ref_date − medical_window_months (exclusive)
	Standard      float64   // cents(dibao_standard ÷ 12)
	ExitLimit     float64   // cents(standard × (1 + gradual_exit_margin))
	Insufficient  map[string]bool
	insufficientW []string
}

// job is one full-base review as SQL: the manifest, the rule set (for its
// parameters, assistance types and sources) and what DuckDB found in the files.
type job struct {
	m      *sources.Manifest
	set    *rules.Set
	cols   map[*sources.Entry]*entryCols
	places []*place
}

func newJob(m *sources.Manifest, set *rules.Set, types map[*sources.Entry]map[string]string) (*job, error) {
	j := &job{m: m, set: set, cols: map[*sources.Entry]*entryCols{}}
	for _, e := range append([]*sources.Entry{m.Roster}, m.Sources...) {
		t, ok := types[e]
		if !ok {
			continue
		}
		s, err := sources.SchemaOf(e.Kind)
		if err != nil {
			return nil, err
		}
		ec := &entryCols{e: e, schema: s, types: t}
		if err := ec.require(append([]string{s.KeyColumn().Name}, columnsOf[e.Kind]...)...); err != nil {
			return nil, err
		}
		j.cols[e] = ec
	}
	for _, id := range ruleIDs {
		if _, ok := set.Rule(id); !ok {
			return nil, fmt.Errorf("the rule set has no rule %s", id)
		}
	}
	return j, nil
}

// neededEntries lists the roster and the entries of the kinds the five rules read.
func neededEntries(m *sources.Manifest) []*sources.Entry {
	out := []*sources.Entry{m.Roster}
	for _, e := range m.Sources {
		if _, ok := columnsOf[e.Kind]; ok {
			out = append(out, e)
		}
	}
	return out
}

// rosterCTE renders the roster rows: canonical ID (NULL when invalid),
// household fields, name, and mk, a roster-order number (file, then row).
func (j *job) rosterCTE() string {
	ec := j.cols[j.m.Roster]
	ec.reset()
	sel := []string{ec.str("household_id") + " AS household_id", ec.str("relation") + " AS relation",
		ec.str("region_code") + " AS region", ec.str("area") + " AS area", ec.str("assistance") + " AS assistance",
		ec.str("status") + " AS status", ec.str("name") + " AS name",
		fmt.Sprintf("CAST(list_position(%s, %s) AS BIGINT) * 1099511627776 + %s AS mk", fileList(j.m.Roster.Files),
			ec.register(&ec.raws, "filename", "hd_file"), ec.register(&ec.raws, "file_row_number", "hd_row"))}
	from := fmt.Sprintf("read_parquet(%s, filename = true, file_row_number = true, union_by_name = true)", fileList(j.m.Roster.Files))
	return "roster AS (\n  " + convertSQL(ec, scanSQL(ec, from, true), []string{"pid"}, sel) + "\n)"
}

// placesSQL lists the distinct region and area of roster rows.
func (j *job) placesSQL() string {
	return "WITH " + j.rosterCTE() + "\nSELECT DISTINCT region, area FROM roster ORDER BY ALL"
}

// lookupPlaces looks up the parameters of each place at ref_date (as_of in
// full mode) and decides, per rule, whether it is insufficient there.
func (j *job) lookupPlaces(pairs [][2]string) error {
	ref := j.m.AsOf
	snaps := map[sources.Kind]time.Time{}
	for _, e := range j.m.Sources {
		if old, ok := snaps[e.Kind]; !ok || e.Snapshot.Before(old) {
			snaps[e.Kind] = e.Snapshot
		}
	}
	for _, pr := range pairs {
		p := &place{Region: pr[0], Area: pr[1], Insufficient: map[string]bool{}}
		num := func(name string) float64 {
			v, err := j.set.Lookup(name, ref, p.Region, p.Area)
			if err != nil {
				p.insufficientW = append(p.insufficientW, err.Error())
			}
			return v.Number
		}
		p.VehicleLimit = num("vehicle_exempt_price")
		if v, err := j.set.Lookup("vehicle_exempt_type_prefixes", ref, p.Region, p.Area); err == nil {
			p.Prefixes = v.Codes
		} else {
			p.insufficientW = append(p.insufficientW, err.Error())
		}
		p.MinUnits = num("realestate_min_units")
		p.AreaLimit = num("realestate_area_factor") * num("housing_floor_m2")
		p.CapitalLimit = num("business_capital_limit")
		p.FundRate = num("fund_rate")
		p.MedWindow = num("medical_window_months")
		p.MedStart = ref.AddDate(0, -int(p.MedWindow), 0)
		p.Standard = cents(num("dibao_standard") / 12)
		p.ExitLimit = cents(p.Standard * (1 + num("gradual_exit_margin")))
		maxAge := num("max_age_days")
		if len(p.insufficientW) > 0 {
			return fmt.Errorf("parameters for region %q area %q: %s", p.Region, p.Area, strings.Join(p.insufficientW, "; "))
		}
		for _, id := range ruleIDs {
			r, _ := j.set.Rule(id)
			for _, k := range r.Sources {
				if k == sources.KindRoster {
					continue
				}
				snap, ok := snaps[k]
				if !ok || float64(daysBetween(snap, j.m.AsOf)) > maxAge {
					p.Insufficient[id] = true
				}
			}
		}
		j.places = append(j.places, p)
	}
	return nil
}

func cents(x float64) float64 { return math.Round(x*100) / 100 }

func daysBetween(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

func dbl(x float64) string { return "CAST('" + strconv.FormatFloat(x, 'g', -1, 64) + "' AS DOUBLE)" }
func date(t time.Time) string {
	return "DATE '" + t.Format(time.DateOnly) + "'"
}

// paramsCTE renders the places as a VALUES table.
func (j *job) paramsCTE() string {
	var rows []string
	for _, p := range j.places {
		pre := make([]string, len(p.Prefixes))
		for i, s := range p.Prefixes {
			pre[i] = quoteString(s)
		}
		var ins []string
		for _, id := range ruleIDs {
			ins = append(ins, strconv.FormatBool(p.Insufficient[id]))
		}
		rows = append(rows, fmt.Sprintf("(%s, %s, %s, CAST([%s] AS VARCHAR[]), %s, %s, %s, %s, %s, %s, %s, %s, %s)",
			quoteString(p.Region), quoteString(p.Area), dbl(p.VehicleLimit), strings.Join(pre, ", "), dbl(p.MinUnits),
			dbl(p.AreaLimit), dbl(p.CapitalLimit), dbl(p.FundRate), dbl(p.MedWindow), date(p.MedStart),
			dbl(p.Standard), dbl(p.ExitLimit), strings.Join(ins, ", ")))
	}
	var insCols []string
	for _, id := range ruleIDs {
		insCols = append(insCols, "ins_"+ruleCol(id))
	}
	return fmt.Sprintf(`params(region, area, vehicle_limit, prefixes, min_units, area_limit, capital_limit, fund_rate,
    med_window, med_start, standard, exit_limit, %s) AS (
  VALUES %s
)`, strings.Join(insCols, ", "), strings.Join(rows, ",\n    "))
}

func ruleCol(id string) string { return strings.NewReplacer(".", "_").Replace(id) }

// sourceCTEs renders, for kind k, <k>_m: every record of the kind tied to a
// roster row (mk) — by canonical ID (by_id) or, for rows whose ID is invalid,
// by name + birth date + region when exactly one roster person has them —
// with the canonical columns the rules read. A kind absent from the manifest
// gives an empty relation.
func (j *job) sourceCTEs(k sources.Kind) []string {
	var parts []string
	for _, e := range j.m.Sources {
		if e.Kind != k {
			continue
		}
		ec := j.cols[e]
		ec.reset()
		var cols []string
		for _, c := range columnsOf[k] {
			cols = append(cols, j.canonical(ec, c)+" AS "+c)
		}
		from := fmt.Sprintf("read_parquet(%s, union_by_name = true)", fileList(e.Files))
		keep := []string{"household_id", "mk", "person_id", "by_id"}
		weak := ec.has("name") && ec.has("birth_date") && ec.has("region_code")
		if !weak {
			join := fmt.Sprintf("SELECT m.household_id, m.mk, m.pid AS person_id, true AS by_id, s.* EXCLUDE (pid) FROM (%s) s JOIN members m ON s.pid = m.pid",
				scanSQL(ec, from, false))
			parts = append(parts, convertSQL(ec, join, keep, cols))
			continue
		}
		// One pass: rows with a valid ID join by it; the others (and only
		// they get the name+DOB key, converted in place) through the
		// name+DOB index.
		ec.inline = true
		extra := []string{
			fmt.Sprintf("CASE WHEN pid IS NULL THEN hd_name(%s) END AS nd_name", ec.text("name")),
			fmt.Sprintf("CASE WHEN pid IS NULL THEN strftime(%s, '%%Y%%m%%d') END AS nd_dob", ec.date("birth_date")),
			fmt.Sprintf("CASE WHEN pid IS NULL THEN %s END AS nd_region", ec.text("region_code")),
		}
		ec.inline = false
		join := fmt.Sprintf(`SELECT m.household_id, m.mk, m.pid AS person_id, s.pid IS NOT NULL AS by_id, s.* EXCLUDE (pid, nd_name, nd_dob, nd_region)
  FROM (%s) s
  LEFT JOIN namedob n ON s.nd_name = n.name AND s.nd_dob = n.dob AND s.nd_region = n.region
  JOIN members m ON m.pid = coalesce(s.pid, n.pid)`, scanSQL(ec, from, true, extra...))
		parts = append(parts, convertSQL(ec, join, keep, cols))
	}
	if len(parts) == 0 {
		var cols []string
		for _, c := range columnsOf[k] {
			cols = append(cols, "CAST(NULL AS "+sqlType(k, c)+") AS "+c)
		}
		parts = append(parts, fmt.Sprintf("SELECT CAST(NULL AS VARCHAR) AS household_id, CAST(NULL AS BIGINT) AS mk, CAST(NULL AS VARCHAR) AS person_id, %s, true AS by_id WHERE false", strings.Join(cols, ", ")))
	}
	return []string{fmt.Sprintf("%s_m AS (\n  %s\n)", k, strings.Join(parts, "\n  UNION ALL BY NAME\n  "))}
}

// canonical renders canonical column c of an entry by its schema type.
func (j *job) canonical(ec *entryCols, c string) string {
	col, _ := ec.schema.Column(c)
	switch col.Type {
	case sources.TypeFloat:
		if col.Amount {
			return ec.amount(c)
		}
		return ec.number(c)
	case sources.TypeBool:
		return ec.boolean(c)
	case sources.TypeDate:
		return ec.date(c)
	}
	return ec.str(c)
}

func sqlType(k sources.Kind, c string) string {
	s, _ := sources.SchemaOf(k)
	col, _ := s.Column(c)
	return map[sources.Type]string{sources.TypeString: "VARCHAR", sources.TypeDate: "DATE", sources.TypeFloat: "DOUBLE",
		sources.TypeInt: "BIGINT", sources.TypeBool: "BOOLEAN"}[col.Type]
}

// assistanceIn renders the rule's assistance types as an SQL list.
func (j *job) assistanceIn(id string) string {
	r, _ := j.set.Rule(id)
	q := make([]string, len(r.Assistance))
	for i, a := range r.Assistance {
		q[i] = quoteString(a)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// SQL renders the whole job: one query giving household_id, person_id,
// rule_id and outcome of every flag of the five rules.
//
// Each rule is evaluated, per target, on the records matched by ID (the
// FILTER (WHERE by_id) aggregates); if it gives no flag there, on every
// record, and a flag it then gives is review — as the rule engine does.
func (j *job) SQL() string {
	ctes := []string{j.rosterCTE(), j.paramsCTE(),
		`hh AS (
  SELECT household_id, count(*) AS size,
    arg_min(struct_pack(relation := relation, region := region, area := area, assistance := assistance, status := status), mk) AS first,
    arg_max(struct_pack(relation := relation, region := region, area := area, assistance := assistance, status := status), mk) FILTER (WHERE relation = 'head') AS head
  FROM roster GROUP BY household_id
)`,
		// Household fields: the first row's, unless it is not the head and a
		// head row exists: then the last head row's (the matcher's order).
		`hp AS (
  SELECT h.household_id, h.size, h.f.region AS region, h.f.area AS area, h.f.assistance AS assistance, h.f.status AS status,
    p.* EXCLUDE (region, area)
  FROM (SELECT household_id, size, CASE WHEN first.relation = 'head' OR head IS NULL THEN first ELSE head END AS f FROM hh) h
  JOIN params p ON p.region = h.f.region AND p.area = h.f.area
)`,
		`members AS (SELECT household_id, pid, mk FROM roster WHERE pid IS NOT NULL)`,
		// The name + birth date + region index: each person once, with the
		// name and region of their first roster row; ambiguous triples dropped.
		`namedob AS (
  SELECT name, dob, region, min(pid) AS pid FROM (
    SELECT pid, hd_name(arg_min(name, mk)) AS name, substr(pid, 7, 8) AS dob, arg_min(region, mk) AS region
    FROM roster WHERE pid IS NOT NULL GROUP BY pid
  ) WHERE name <> '' AND strlen(region) = 6
  GROUP BY name, dob, region HAVING count(*) = 1
)`,
	}
	for _, k := range []sources.Kind{sources.KindVehicle, sources.KindRealEstate, sources.KindPayroll, sources.KindFund,
		sources.KindPension, sources.KindMedical, sources.KindBusiness} {
		ctes = append(ctes, j.sourceCTEs(k)...)
	}
	ctes = append(ctes, j.ruleCTEs()...)
	var flags []string
	for _, id := range ruleIDs {
		flags = append(flags, "SELECT * FROM f_"+ruleCol(id))
	}
	return "WITH " + strings.Join(ctes, ",\n") + ",\nflags AS (\n  " + strings.Join(flags, "\n  UNION ALL ") +
		"\n)\nSELECT household_id, person_id, rule_id, outcome FROM flags WHERE outcome IS NOT NULL ORDER BY ALL"
}

// ruleCTEs renders one f_<rule> relation per rule.
func (j *job) ruleCTEs() []string {
	downgrade := func(idCase, allCase string) string {
		return fmt.Sprintf("coalesce(%s, CASE WHEN (%s) IS NOT NULL THEN 'review' END)", idCase, allCase)
	}
	insufficient := func(id string) string {
		return fmt.Sprintf("SELECT household_id, '' AS person_id, '%s' AS rule_id, 'insufficient' AS outcome FROM hp WHERE ins_%s AND assistance IN %s",
			id, ruleCol(id), j.assistanceIn(id))
	}
	memberRule := func(id, kind, aggs, idCase, allCase, extra string) string {
		return fmt.Sprintf(`f_%s AS (
  SELECT household_id, person_id, '%s' AS rule_id, %s AS outcome FROM (
    SELECT r.mk, any_value(r.household_id) AS household_id, any_value(r.person_id) AS person_id, %s
    FROM (SELECT k.*, hp.vehicle_limit, hp.prefixes, hp.capital_limit%s FROM %s_m k JOIN hp USING (household_id)
          WHERE hp.assistance IN %s AND NOT hp.ins_%s) r
    GROUP BY r.mk)
  UNION ALL %s
)`, ruleCol(id), id, downgrade(idCase, allCase), aggs, extra, kind, j.assistanceIn(id), ruleCol(id), insufficient(id))
	}
	// both renders an aggregate twice: over ID-matched records (_id) and all (_all).
	both := func(name, agg, cond string) string {
		return fmt.Sprintf("%s FILTER (WHERE by_id AND %s) AS %s_id, %s FILTER (WHERE %s) AS %s_all", agg, cond, name, agg, cond, name)
	}
	vehicle := memberRule(ruleVehicle, "vehicle",
		both("over", "count(*)", "counted AND price > vehicle_limit")+", "+both("unknown", "count(*)", "counted AND price = 0"),
		"CASE WHEN over_id > 0 THEN 'ineligible' WHEN unknown_id > 0 THEN 'review' END",
		"CASE WHEN over_all > 0 THEN 'ineligible' WHEN unknown_all > 0 THEN 'review' END",
		", (k.status = 'normal' AND NOT k.disabled AND len(list_filter(hp.prefixes, x -> starts_with(k.vehicle_type, x))) = 0) AS counted")
	payroll := memberRule(rulePayroll, "payroll",
		both("active", "count(*)", "status = 'active'"),
		"CASE WHEN active_id > 0 THEN 'ineligible' END", "CASE WHEN active_all > 0 THEN 'ineligible' END", "")
	business := memberRule(ruleBusiness, "business",
		both("big", "count(*)", "status = 'active' AND role IN ('legal_rep', 'shareholder') AND subscribed_capital > capital_limit")+", "+
			both("sole", "count(*)", "status = 'active' AND role = 'sole_trader'"),
		"CASE WHEN big_id > 0 THEN 'ineligible' WHEN sole_id > 0 THEN 'review' END",
		"CASE WHEN big_all > 0 THEN 'ineligible' WHEN sole_all > 0 THEN 'review' END", "")

	reCase := func(v string) string {
		return fmt.Sprintf("CASE WHEN units_%[1]s >= min_units AND hd_cents(area_%[1]s / size) > area_limit THEN 'ineligible' WHEN business_%[1]s > 0 THEN 'ineligible' END", v)
	}
	realestate := fmt.Sprintf(`f_%s AS (
  SELECT hp.household_id, '' AS person_id, '%s' AS rule_id, %s AS outcome
  FROM (SELECT household_id, %s, %s, %s FROM realestate_m GROUP BY household_id) a
  JOIN hp USING (household_id) WHERE hp.assistance IN %s AND NOT hp.ins_%s
  UNION ALL %s
)`, ruleCol(ruleRealEstate), ruleRealEstate, downgrade(reCase("id"), reCase("all")),
		both("units", "count(DISTINCT cert_no)", "status = 'normal' AND usage = 'residential'"),
		both("area", "sum(area_m2 * CASE WHEN share = 0 THEN 1 ELSE share END)", "status = 'normal' AND usage = 'residential'"),
		both("business", "count(*)", "status = 'normal' AND usage IN ('commercial', 'office')"),
		j.assistanceIn(ruleRealEstate), ruleCol(ruleRealEstate), insufficient(ruleRealEstate))

	// income.excess: per member wage (active payroll, else active fund
	// deposits ÷ (2 × fund_rate)) plus counted pensions; per household minus
	// the medical window's self-paid costs ÷ the window.
	perMember := func(kind, aggs, extra string) string {
		return fmt.Sprintf(`i_%s AS (
  SELECT mk, %s FROM (SELECT k.*, hp.fund_rate, hp.med_start%s FROM %s_m k JOIN hp USING (household_id)) GROUP BY mk
)`, kind, aggs, extra, kind)
	}
	ipay := perMember("payroll", both("paid", "count(*)", "status = 'active'")+", "+both("wage", "sum(monthly_salary)", "status = 'active'"), "")
	ifund := perMember("fund", both("fund", "sum(monthly_deposit / (2 * fund_rate))", "account_status = 'active'"), "")
	ipen := perMember("pension", both("pension", "sum(monthly_amount)", "state = 'receiving' AND scheme IN ('employee', 'civil-service')"), "")
	imed := perMember("medical", both("medical", "sum(self_paid)", fmt.Sprintf("settle_date > med_start AND settle_date <= %s", date(j.m.AsOf))), "")
	memberIncome := func(v string) string {
		return fmt.Sprintf("CASE WHEN coalesce(paid_%[1]s, 0) > 0 THEN wage_%[1]s ELSE coalesce(fund_%[1]s, 0) END + coalesce(pension_%[1]s, 0)", v)
	}
	incCase := func(v string) string {
		pc := fmt.Sprintf("hd_cents((income_%[1]s - medical_%[1]s / med_window) / size)", v)
		return fmt.Sprintf("CASE WHEN %[1]s > standard AND status = 'recipient' AND %[1]s <= exit_limit THEN 'adjust' WHEN %[1]s > standard THEN 'ineligible' END", pc)
	}
	income := fmt.Sprintf(`f_%s AS (
  SELECT hp.household_id, '' AS person_id, '%s' AS rule_id, %s AS outcome
  FROM (SELECT m.household_id, sum(%s) AS income_id, sum(%s) AS income_all,
          coalesce(sum(d.medical_id), 0) AS medical_id, coalesce(sum(d.medical_all), 0) AS medical_all
        FROM members m LEFT JOIN i_payroll p USING (mk) LEFT JOIN i_fund f USING (mk) LEFT JOIN i_pension n USING (mk)
          LEFT JOIN i_medical d USING (mk)
        GROUP BY m.household_id) a
  RIGHT JOIN hp USING (household_id)
  WHERE hp.assistance IN %s AND NOT hp.ins_%s
  UNION ALL %s
)`, ruleCol(ruleIncome), ruleIncome,
		downgrade(incCase("id"), incCase("all")),
		memberIncome("id"), memberIncome("all"), j.assistanceIn(ruleIncome), ruleCol(ruleIncome), insufficient(ruleIncome))
	out := []string{vehicle, payroll, business, realestate, ipay, ifund, ipen, imed, income}
	return slices.Clip(out)
}
