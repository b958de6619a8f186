package synth

import (
	"slices"
	"strings"
	"time"

	"github.com/hedui/hedui/sources"
)

// Default parameters of docs/default-rules.md (region 53, from 2020-06-01).
const (
	vehicleExemptPrice   = 30000.0
	realestateMinUnits   = 2
	realestateAreaLimit  = 3 * 15.0 // realestate_area_factor × housing_floor_m2
	businessCapitalLimit = 100000.0
	fundRate             = 0.12
	medicalWindowMonths  = 12
	gradualExitMargin    = 0.5
	assetsMonths         = 24.0
	divorceWindowMonths  = 12
	singleIncomeFactor   = 1.5
)

// flag is one expected row of truth.csv.
type flag struct {
	household, person, rule, outcome string
}

func flagLess(a, b flag) int {
	if c := strings.Compare(a.household, b.household); c != 0 {
		return c
	}
	if c := strings.Compare(a.person, b.person); c != 0 {
		return c
	}
	if c := strings.Compare(a.rule, b.rule); c != 0 {
		return c
	}
	return strings.Compare(a.outcome, b.outcome)
}

// evaluator applies the default rule set in full mode to a block, from the
// records generated (not from what the plants meant to do).
type evaluator struct {
	asOf time.Time
	nd   map[*person][]*sources.Vehicle // vehicles matched by name + birth date
	// byHukou lists the people on each hukou of the block.
	byHukou map[string][]*person
}

func newEvaluator(asOf time.Time, b *block) *evaluator {
	e := &evaluator{asOf: asOf, nd: map[*person][]*sources.Vehicle{}, byHukou: map[string][]*person{}}
	for i := range b.nd {
		e.nd[b.nd[i].p] = append(e.nd[b.nd[i].p], &b.nd[i].v)
	}
	for _, p := range b.people {
		e.byHukou[p.hukou] = append(e.byHukou[p.hukou], p)
	}
	return e
}

// vehicleOutcome is vehicle.owned over a list of vehicles.
func vehicleOutcome(vs []sources.Vehicle) string {
	out := ""
	for i := range vs {
		switch vehicleOne(&vs[i]) {
		case "ineligible":
			return "ineligible"
		case "review":
			out = "review"
		}
	}
	return out
}

func vehicleOne(v *sources.Vehicle) string {
	if v.Status != "normal" || v.Disabled || strings.HasPrefix(v.VehicleType, "M2") ||
		strings.HasPrefix(v.VehicleType, "N") || strings.HasPrefix(v.VehicleType, "T") {
		return ""
	}
	if v.Price == 0 {
		return "review"
	}
	if v.Price > vehicleExemptPrice {
		return "ineligible"
	}
	return ""
}

func businessOutcome(bs []sources.Business) string {
	out := ""
	for _, b := range bs {
		if b.Status != "active" {
			continue
		}
		if (b.Role == "legal_rep" || b.Role == "shareholder") && b.SubscribedCapital > businessCapitalLimit {
			return "ineligible"
		}
		if b.Role == "sole_trader" {
			out = "review"
		}
	}
	return out
}

// realestateExcess is realestate.excess over the records of a household of size n.
func realestateExcess(recs []sources.RealEstate, n int) bool {
	certs := map[string]bool{}
	area := 0.0
	for _, r := range recs {
		if r.Status != "normal" {
			continue
		}
		switch r.Usage {
		case "commercial", "office":
			return true
		case "residential":
			certs[r.CertNo] = true
			share := r.Share
			if share == 0 {
				share = 1
			}
			area += r.AreaM2 * share
		}
	}
	return len(certs) >= realestateMinUnits && area/float64(n) > realestateAreaLimit
}

func hasActivePayroll(p *person) bool {
	for _, r := range p.r.payroll {
		if r.Status == "active" {
			return true
		}
	}
	return false
}

// income is the counted monthly income of one member at ref.
func (e *evaluator) income(p *person) float64 {
	wage := 0.0
	if hasActivePayroll(p) {
		for _, r := range p.r.payroll {
			if r.Status == "active" {
				wage += r.MonthlySalary
			}
		}
	} else {
		for _, f := range p.r.fund {
			if f.AccountStatus == "active" {
				wage += f.MonthlyDeposit / (2 * fundRate)
			}
		}
	}
	pension := 0.0
	for _, r := range p.r.pension {
		if r.State == "receiving" && (r.Scheme == "employee" || r.Scheme == "civil-service") {
			pension += r.MonthlyAmount
		}
	}
	from := e.asOf.AddDate(0, -medicalWindowMonths, 0)
	med := 0.0
	for _, r := range p.r.medical {
		if r.SettleDate.After(from) && !r.SettleDate.After(e.asOf) {
			med += r.SelfPaid
		}
	}
	return wage + pension - med/12
}

func disabilityQualifies(ds []sources.Disability) bool {
	for _, d := range ds {
		if d.Grade <= 2 || (d.Grade <= 3 && (d.Category == "intellectual" || d.Category == "mental")) {
			return true
		}
	}
	return false
}

func noSpaces(s string) string {
	return strings.NewReplacer(" ", "", "\u3000", "").Replace(s)
}

// household evaluates every rule for one roster household.
func (e *evaluator) household(h *household) []flag {
	var out []flag
	add := func(m *member, rule, outcome string) {
		pid := ""
		if m != nil {
			pid = m.p.id
		}
		out = append(out, flag{h.id, pid, rule, outcome})
	}
	n := len(h.members)
	std := monthlyStandard(h.area)
	onHH := map[*person]bool{}
	allDead := true
	var re []sources.RealEstate
	counted, deposits := 0.0, 0.0
	for _, m := range h.members {
		onHH[m.p] = true
		allDead = allDead && m.p.pstatus == "deceased"
		re = append(re, m.p.r.realestate...)
		counted += e.income(m.p)
		for _, d := range m.p.r.deposit {
			deposits += d.Balance
		}
	}
	perCapita := counted / float64(n)
	for _, m := range h.members {
		p := m.p
		if o := vehicleOutcome(p.r.vehicle); o != "" {
			add(m, "vehicle.owned", o)
		} else {
			for _, v := range e.nd[p] {
				if vehicleOne(v) != "" {
					add(m, "vehicle.owned", "review")
					break
				}
			}
		}
		if o := businessOutcome(p.r.business); o != "" {
			add(m, "business.owner", o)
		}
		if hasActivePayroll(p) {
			add(m, "payroll.member", "ineligible")
		}
		if p.pstatus == "deceased" {
			if allDead {
				add(m, "member.deceased", "ineligible")
			} else {
				add(m, "member.deceased", "adjust")
			}
		}
		if p.rel == "head" {
			for _, q := range e.byHukou[p.hukou] {
				if !onHH[q] && q.rel == "spouse" && q.pstatus == "normal" {
					add(m, "member.hidden", "review")
					break
				}
			}
		}
		for _, c := range p.r.court {
			if c.CaseType == "divorce" && c.EffectiveDate.After(e.asOf.AddDate(0, -divorceWindowMonths, 0)) && !c.EffectiveDate.After(e.asOf) {
				add(m, "divorce.recent", "review")
				break
			}
		}
		if len(p.rosters) > 1 {
			add(m, "roster.duplicate", "review")
		}
		if noSpaces(p.pname) != noSpaces(p.name) {
			add(m, "identity.mismatch", "review")
		}
		if !m.filed && e.staffNear(p, onHH) {
			add(m, "relative.unfiled", "review")
		}
		if h.assistance == "edge" && disabilityQualifies(p.r.disability) && perCapita < singleIncomeFactor*std {
			add(m, "single.eligible", "info")
		}
	}
	if realestateExcess(re, n) {
		add(nil, "realestate.excess", "ineligible")
	}
	if h.assistance == "dibao" && perCapita > std {
		switch {
		case h.status == "applicant":
			add(nil, "income.excess", "ineligible")
		case perCapita <= std*(1+gradualExitMargin):
			add(nil, "income.excess", "adjust")
		default:
			add(nil, "income.excess", "ineligible")
		}
	}
	if (h.assistance == "dibao" || h.assistance == "tekun") && deposits/float64(n) > assetsMonths*std {
		add(nil, "assets.excess", "ineligible")
	}
	return out
}

// staffNear reports whether p or a housemate of p (same hukou, not on the
// household) has a staff record.
func (e *evaluator) staffNear(p *person, onHH map[*person]bool) bool {
	if len(p.r.staff) > 0 {
		return true
	}
	for _, q := range e.byHukou[p.hukou] {
		if !onHH[q] && len(q.r.staff) > 0 {
			return true
		}
	}
	return false
}

// candidate evaluates omission.candidate for a person on no roster household.
func (e *evaluator) candidate(p *person) (flag, bool) {
	if len(p.rosters) > 0 || (len(p.r.poverty) == 0 && len(p.r.disability) == 0) {
		return flag{}, false
	}
	qualifies := slices.ContainsFunc(p.r.poverty, func(r sources.Poverty) bool { return r.Status == "monitored" }) ||
		slices.ContainsFunc(p.r.disability, func(r sources.Disability) bool { return r.Grade <= 2 })
	if !qualifies {
		return flag{}, false
	}
	switch {
	case p.pstatus == "deceased" || p.pstatus == "cancelled" || p.pstatus == "moved",
		vehicleOutcome(p.r.vehicle) != "",
		realestateExcess(p.r.realestate, 1),
		hasActivePayroll(p),
		businessOutcome(p.r.business) != "":
		return flag{}, false
	}
	return flag{"", p.id, "omission.candidate", "omission"}, true
}

// evaluate returns the flags of a block: household flags sorted, and
// candidate flags (household_id empty) separately.
func (e *evaluator) evaluate(b *block) (hh, cands []flag) {
	for _, h := range b.households {
		fs := e.household(h)
		slices.SortFunc(fs, flagLess)
		hh = append(hh, fs...)
	}
	for _, p := range b.people {
		if f, ok := e.candidate(p); ok {
			cands = append(cands, f)
		}
	}
	return hh, cands
}
