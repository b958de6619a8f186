package synth

import (
	"github.com/hedui/hedui/sources"
)

// plant is one kind of planted case: a household (or omission candidate)
// built so that a rule gives a known outcome, or a trap that looks close
// but must not flag. Which flags result is not assumed: truth is computed
// from the generated records by evaluate.
type plant struct {
	name       string   // label in plants.csv, e.g. "vehicle.owned/ineligible"
	rate       float64  // share of roster households
	assist     []string // allowed assistance types; empty: any
	status     string   // recipient | applicant; empty: drawn
	minSize    int
	maxSize    int
	minHeadAge int
	controls   kindMask // kinds the benign generator must not touch
	pair       bool     // needs a clean partner household (roster.duplicate)
	apply      func(g *gen, h, partner *household)
}

var (
	dibao      = []string{"dibao"}
	dibaoTekun = []string{"dibao", "tekun"}
	edge       = []string{"edge"}
	notEdge    = []string{"dibao", "tekun"}
)

// plants is the catalogue of planted cases, one or more per rule and
// outcome, and the traps of docs/default-rules.md. It is read only.
var plants = []plant{
	// vehicle.owned
	{name: "vehicle.owned/ineligible", rate: 0.015, controls: mVehicle, apply: func(g *gen, h, _ *household) {
		g.vehicle(g.adult(h).p, "K33", "normal", float64(60000+g.r.IntN(1400)*100))
	}},
	{name: "vehicle.owned/review:price_unknown", rate: 0.004, controls: mVehicle, apply: func(g *gen, h, _ *household) {
		g.vehicle(g.adult(h).p, g.pick([]string{"K33", "H31"}), "normal", 0)
	}},
	{name: "vehicle.owned/review:name_dob", rate: 0.004, controls: mVehicle, apply: func(g *gen, h, _ *household) {
		m := g.adult(h)
		g.rareName(m.p)
		bad := []dirtyKind{badChecksum, badCharacters, badLength, badEmpty}[g.r.IntN(4)]
		g.b.nd = append(g.b.nd, ndVehicle{
			v: vehicleRec(g, "K33", "normal", float64(70000+g.r.IntN(800)*100)), bad: bad, p: m.p,
			raw: invalidID(g.r, bad, m.p.region, m.p.dob),
		})
	}},
	{name: "trap:vehicle.price_30000", rate: 0.003, controls: mVehicle, apply: vehicleTrap("K33", "normal", 30000, false)},
	{name: "trap:vehicle.scrapped", rate: 0.003, controls: mVehicle, apply: vehicleTrap("K33", "scrapped", 90000, false)},
	{name: "trap:vehicle.transferred", rate: 0.003, controls: mVehicle, apply: vehicleTrap("K32", "transferred", 120000, false)},
	{name: "trap:vehicle.M21", rate: 0.003, controls: mVehicle, apply: vehicleTrap("M21", "normal", 45000, false)},
	{name: "trap:vehicle.N11", rate: 0.003, controls: mVehicle, apply: vehicleTrap("N11", "normal", 38000, false)},
	{name: "trap:vehicle.T11", rate: 0.003, controls: mVehicle, apply: vehicleTrap("T11", "normal", 65000, false)},
	{name: "trap:vehicle.disabled", rate: 0.003, controls: mVehicle, apply: vehicleTrap("K33", "normal", 85000, true)},

	// realestate.excess
	{name: "realestate.excess/ineligible:units", rate: 0.01, controls: mRealEstate, apply: func(g *gen, h, _ *household) {
		total := 45*float64(len(h.members)) + float64(10+g.r.IntN(60))
		a := float64(30 + g.r.IntN(int(total)-50))
		g.realestate(h.head().p, "residential", "normal", a, 0)
		g.realestate(g.adult(h).p, "residential", "normal", total-a, 1)
	}},
	{name: "realestate.excess/ineligible:commercial", rate: 0.005, controls: mRealEstate, apply: func(g *gen, h, _ *household) {
		g.realestate(g.adult(h).p, "commercial", "normal", float64(20+g.r.IntN(100)), 0)
	}},
	{name: "realestate.excess/ineligible:office", rate: 0.003, controls: mRealEstate, apply: func(g *gen, h, _ *household) {
		g.realestate(g.adult(h).p, "office", "normal", float64(40+g.r.IntN(100)), 0.5)
	}},
	{name: "trap:realestate.per_capita_45", rate: 0.003, controls: mRealEstate, apply: func(g *gen, h, _ *household) {
		// Exactly 45 m² per person: the half share counts half its area.
		total := 45 * len(h.members)
		half := 20 + g.r.IntN(total/2-10)
		g.realestate(h.head().p, "residential", "normal", float64(2*half), 0.5)
		g.realestate(g.adult(h).p, "residential", "normal", float64(total-half), 0)
	}},
	{name: "trap:realestate.one_large", rate: 0.003, controls: mRealEstate, maxSize: 2, apply: func(g *gen, h, _ *household) {
		g.realestate(h.head().p, "residential", "normal", float64(180+g.r.IntN(150)), 0)
	}},
	{name: "trap:realestate.cancelled_commercial", rate: 0.003, controls: mRealEstate, apply: func(g *gen, h, _ *household) {
		g.realestate(g.adult(h).p, "commercial", "cancelled", float64(30+g.r.IntN(100)), 0)
	}},
	{name: "trap:realestate.parking_industrial", rate: 0.003, controls: mRealEstate, apply: func(g *gen, h, _ *household) {
		g.realestate(h.head().p, "residential", "normal", float64(40+g.r.IntN(40)), 0)
		g.realestate(h.head().p, g.pick([]string{"parking", "industrial"}), "normal", float64(15+g.r.IntN(300)), 0)
	}},

	// business.owner
	{name: "business.owner/ineligible:legal_rep", rate: 0.006, controls: mBusiness, apply: func(g *gen, h, _ *household) {
		g.business(g.adult(h).p, "legal_rep", "active", float64((11+g.r.IntN(500))*10000))
	}},
	{name: "business.owner/ineligible:shareholder", rate: 0.004, controls: mBusiness, apply: func(g *gen, h, _ *household) {
		g.business(g.adult(h).p, "shareholder", "active", 100000.5+float64(g.r.IntN(100))*5000)
	}},
	{name: "business.owner/review:sole_trader", rate: 0.008, controls: mBusiness, apply: func(g *gen, h, _ *household) {
		g.business(g.adult(h).p, "sole_trader", "active", float64(g.r.IntN(6)*10000))
	}},
	{name: "trap:business.capital_100000", rate: 0.003, controls: mBusiness, apply: func(g *gen, h, _ *household) {
		g.business(g.adult(h).p, g.pick([]string{"legal_rep", "shareholder"}), "active", 100000)
	}},
	{name: "trap:business.closed", rate: 0.003, controls: mBusiness, apply: func(g *gen, h, _ *household) {
		g.business(g.adult(h).p, g.pick([]string{"legal_rep", "shareholder"}), g.pick([]string{"deregistered", "revoked"}), 1000000)
	}},
	{name: "trap:business.sole_trader_revoked", rate: 0.003, controls: mBusiness, apply: func(g *gen, h, _ *household) {
		g.business(g.adult(h).p, "sole_trader", "revoked", 30000)
	}},

	// payroll.member
	{name: "payroll.member/ineligible", rate: 0.006, controls: mIncome, apply: func(g *gen, h, _ *household) {
		g.payroll(g.adult(h).p, "active", float64(3500+g.r.IntN(50)*100))
	}},
	{name: "trap:payroll.left_retired", rate: 0.004, controls: mIncome, apply: func(g *gen, h, _ *household) {
		g.payroll(g.adult(h).p, g.pick([]string{"left", "retired"}), float64(3500+g.r.IntN(50)*100))
	}},

	// income.excess (dibao only)
	{name: "income.excess/adjust", rate: 0.01, assist: dibao, status: "recipient", controls: mIncome, apply: func(g *gen, h, _ *household) {
		// Wage implied by provident-fund deposits: per capita 1.1–1.4 × standard.
		wage := monthlyStandard(h.area) * float64(len(h.members)) * (1.1 + 0.3*g.r.Float64())
		g.fund(g.adult(h).p, "active", float64(int(wage*0.24)))
	}},
	{name: "income.excess/ineligible:recipient", rate: 0.006, assist: dibao, status: "recipient", controls: mIncome, minHeadAge: 62, apply: func(g *gen, h, _ *household) {
		amt := monthlyStandard(h.area) * float64(len(h.members)) * (1.7 + g.r.Float64())
		g.pension(h.head().p, g.pick([]string{"employee", "civil-service"}), "receiving", float64(int(amt)))
	}},
	{name: "income.excess/ineligible:applicant", rate: 0.005, assist: dibao, status: "applicant", controls: mIncome, apply: func(g *gen, h, _ *household) {
		salary := monthlyStandard(h.area) * float64(len(h.members)) * (1.1 + 0.3*g.r.Float64())
		g.fund(g.adult(h).p, "active", float64(int(salary*0.24)))
	}},
	{name: "income.excess/adjust:old_medical_not_counted", rate: 0.003, assist: dibao, status: "recipient", controls: mIncome, minHeadAge: 62, apply: func(g *gen, h, _ *household) {
		n := float64(len(h.members))
		g.pension(h.head().p, "employee", "receiving", float64(int(monthlyStandard(h.area)*n*1.2)))
		// 13 months old: outside the 12-month window; counting it would clear the flag.
		g.medical(h.head().p, g.monthsAgo(13, 14), float64(int(monthlyStandard(h.area)*n*12)))
	}},
	{name: "trap:income.medical_deducted", rate: 0.003, assist: dibao, controls: mIncome, minHeadAge: 62, apply: func(g *gen, h, _ *household) {
		n := float64(len(h.members))
		g.pension(h.head().p, "employee", "receiving", float64(int(monthlyStandard(h.area)*n*1.2)))
		g.medical(h.head().p, g.monthsAgo(1, 10), float64(int(monthlyStandard(h.area)*n*12*0.5)))
	}},
	{name: "trap:income.exactly_standard", rate: 0.003, assist: dibao, controls: mIncome, minHeadAge: 62, apply: func(g *gen, h, _ *household) {
		g.pension(h.head().p, "employee", "receiving", monthlyStandard(h.area)*float64(len(h.members)))
	}},
	{name: "trap:income.resident_pension", rate: 0.003, assist: dibao, controls: mIncome, minHeadAge: 62, apply: func(g *gen, h, _ *household) {
		g.pension(h.head().p, "resident", "receiving", float64(int(monthlyStandard(h.area)*float64(len(h.members))*1.3)))
	}},
	{name: "trap:income.fund_inactive", rate: 0.003, assist: dibao, controls: mIncome, apply: func(g *gen, h, _ *household) {
		g.fund(g.adult(h).p, g.pick([]string{"sealed", "closed"}), float64(1000+g.r.IntN(2000)))
	}},
	{name: "trap:income.payroll_not_plus_fund", rate: 0.003, assist: dibao, status: "recipient", controls: mIncome, minSize: 2, apply: func(g *gen, h, _ *household) {
		// Wage is the payroll salary, never salary plus fund-implied wage.
		p := g.adult(h).p
		g.payroll(p, "active", float64(int(monthlyStandard(h.area)*float64(len(h.members))*0.6)))
		g.fund(p, "active", 2400)
	}},

	// assets.excess (dibao, tekun)
	{name: "assets.excess/ineligible", rate: 0.008, assist: dibaoTekun, controls: mDeposit, apply: func(g *gen, h, _ *household) {
		limit := 24 * monthlyStandard(h.area) * float64(len(h.members))
		splitDeposits(g, h, float64(int(limit)+1000+g.r.IntN(40000)))
	}},
	{name: "trap:assets.exactly_limit", rate: 0.003, assist: dibaoTekun, controls: mDeposit, apply: func(g *gen, h, _ *household) {
		splitDeposits(g, h, 24*monthlyStandard(h.area)*float64(len(h.members)))
	}},
	{name: "trap:assets.edge_household", rate: 0.003, assist: edge, controls: mDeposit, apply: func(g *gen, h, _ *household) {
		splitDeposits(g, h, float64(int(30*monthlyStandard(h.area)*float64(len(h.members)))))
	}},

	// member.deceased
	{name: "member.deceased/adjust", rate: 0.01, minSize: 2, apply: func(g *gen, h, _ *household) {
		m := h.members[g.r.IntN(len(h.members))]
		m.p.pstatus, m.p.pdate = "deceased", g.monthsAgo(1, 30)
	}},
	{name: "member.deceased/ineligible", rate: 0.003, maxSize: 2, status: "recipient", apply: func(g *gen, h, _ *household) {
		for _, m := range h.members {
			m.p.pstatus, m.p.pdate = "deceased", g.monthsAgo(1, 20)
		}
	}},
	{name: "trap:member.cancelled_moved", rate: 0.003, minSize: 2, apply: func(g *gen, h, _ *household) {
		m := h.members[g.r.IntN(len(h.members))]
		m.p.pstatus, m.p.pdate = g.pick([]string{"cancelled", "moved"}), g.monthsAgo(1, 20)
	}},

	// member.hidden
	{name: "member.hidden/review", rate: 0.008, maxSize: 3, apply: func(g *gen, h, _ *household) {
		hiddenHousemate(g, h, "spouse", "normal")
	}},
	{name: "trap:member.hidden.spouse_deceased", rate: 0.003, maxSize: 3, apply: func(g *gen, h, _ *household) {
		hiddenHousemate(g, h, "spouse", "deceased")
	}},
	{name: "trap:member.hidden.housemate_child", rate: 0.003, apply: func(g *gen, h, _ *household) {
		hiddenHousemate(g, h, "child", "normal")
	}},

	// divorce.recent
	{name: "divorce.recent/review", rate: 0.006, controls: mCourt, apply: func(g *gen, h, _ *household) {
		g.court(g.adult(h).p, "divorce", g.monthsAgo(1, 11))
	}},
	{name: "trap:divorce.13_months", rate: 0.003, controls: mCourt, apply: func(g *gen, h, _ *household) {
		g.court(g.adult(h).p, "divorce", g.monthsAgo(13, 14))
	}},
	{name: "trap:divorce.support_case", rate: 0.003, controls: mCourt, apply: func(g *gen, h, _ *household) {
		g.court(g.adult(h).p, "support", g.monthsAgo(1, 11))
	}},

	// roster.duplicate
	{name: "roster.duplicate/review", rate: 0.004, pair: true, minSize: 2, apply: func(g *gen, h, partner *household) {
		// An elderly parent listed both with its own household and with a child's.
		var m *member
		for _, x := range h.members {
			if x.relation != "head" && x.p.rel != "head" {
				m = x
			}
		}
		if m == nil {
			m = h.members[len(h.members)-1]
		}
		partner.addMember(m.p, "other", partner.members[0].filed)
	}},

	// identity.mismatch
	{name: "identity.mismatch/review", rate: 0.006, apply: func(g *gen, h, _ *household) {
		m := h.members[g.r.IntN(len(h.members))]
		r := []rune(m.p.pname)
		pool := givenFemale
		if m.p.male {
			pool = givenMale
		}
		for {
			c := pool[g.r.IntN(len(pool))]
			if c != r[len(r)-1] {
				r[len(r)-1] = c
				break
			}
		}
		m.p.pname = string(r)
	}},
	{name: "trap:identity.inner_space", rate: 0.003, apply: func(g *gen, h, _ *household) {
		m := h.members[g.r.IntN(len(h.members))]
		r := []rune(m.p.name)
		sp := g.pick([]string{" ", "\u3000"})
		if g.chance(0.5) {
			m.p.pname = string(r[:1]) + sp + string(r[1:])
		} else {
			m.p.name = string(r[:1]) + sp + string(r[1:])
		}
	}},

	// relative.unfiled
	{name: "relative.unfiled/review:member", rate: 0.004, controls: mStaff, apply: func(g *gen, h, _ *household) {
		setFiled(h, false)
		g.staff(g.adult(h).p, "village-committee")
	}},
	{name: "relative.unfiled/review:housemate", rate: 0.004, apply: func(g *gen, h, _ *household) {
		setFiled(h, false)
		hm := hiddenHousemate(g, h, "child", "normal")
		g.staff(hm, g.pick([]string{"civil-affairs", "village-committee", "handler"}))
	}},
	{name: "trap:relative.filed", rate: 0.003, controls: mStaff, apply: func(g *gen, h, _ *household) {
		setFiled(h, true)
		if g.chance(0.5) {
			g.staff(g.adult(h).p, "village-committee")
		} else {
			g.staff(hiddenHousemate(g, h, "child", "normal"), "handler")
		}
	}},

	// single.eligible (edge only)
	{name: "single.eligible/info:grade12", rate: 0.006, assist: edge, controls: mDisability | mIncome, apply: func(g *gen, h, _ *household) {
		g.disability(h.members[g.r.IntN(len(h.members))].p, g.pick(disabilityCategories), 1+g.r.IntN(2))
	}},
	{name: "single.eligible/info:grade3_intellectual", rate: 0.003, assist: edge, controls: mDisability | mIncome, apply: func(g *gen, h, _ *household) {
		g.disability(h.members[g.r.IntN(len(h.members))].p, g.pick([]string{"intellectual", "mental"}), 3)
	}},
	{name: "trap:single.grade3_physical", rate: 0.003, assist: edge, controls: mDisability | mIncome, apply: func(g *gen, h, _ *household) {
		g.disability(h.members[g.r.IntN(len(h.members))].p, "physical", 3)
	}},
	{name: "trap:single.income_1.5_standard", rate: 0.003, assist: edge, controls: mDisability | mIncome, minHeadAge: 62, apply: func(g *gen, h, _ *household) {
		g.disability(h.members[g.r.IntN(len(h.members))].p, g.pick(disabilityCategories), 1+g.r.IntN(2))
		g.pension(h.head().p, "employee", "receiving", 1.5*monthlyStandard(h.area)*float64(len(h.members)))
	}},
	{name: "trap:single.not_edge", rate: 0.003, assist: notEdge, controls: mDisability | mIncome, apply: func(g *gen, h, _ *household) {
		g.disability(h.members[g.r.IntN(len(h.members))].p, g.pick(disabilityCategories), 1)
	}},

	// omission.candidate: people outside the roster; the household itself stays clean.
	{name: "omission.candidate/omission:monitored", rate: 0.006, apply: candidate(func(g *gen, p *person) { g.poverty(p, "monitored") })},
	{name: "omission.candidate/omission:grade12", rate: 0.006, apply: candidate(func(g *gen, p *person) {
		g.disability(p, g.pick(disabilityCategories), 1+g.r.IntN(2))
	})},
	{name: "trap:omission.on_roster", rate: 0.003, controls: mPoverty | mDisability, apply: func(g *gen, h, _ *household) {
		p := h.members[g.r.IntN(len(h.members))].p
		if g.chance(0.5) {
			g.poverty(p, "monitored")
		} else {
			g.disability(p, "physical", 1+g.r.IntN(2))
		}
	}},
	{name: "trap:omission.exited_or_grade3", rate: 0.003, apply: candidate(func(g *gen, p *person) {
		if g.chance(0.5) {
			g.poverty(p, g.pick([]string{"exited", "stable"}))
		} else {
			g.disability(p, g.pick(disabilityCategories), 3+g.r.IntN(2))
		}
	})},
	{name: "trap:omission.owns_vehicle", rate: 0.003, apply: candidate(func(g *gen, p *person) {
		g.poverty(p, "monitored")
		g.vehicle(p, "K33", "normal", float64(60000+g.r.IntN(1000)*100))
	})},
	{name: "trap:omission.deceased_or_moved", rate: 0.003, apply: candidate(func(g *gen, p *person) {
		g.disability(p, g.pick(disabilityCategories), 1)
		p.pstatus, p.pdate = g.pick([]string{"deceased", "moved", "cancelled"}), g.monthsAgo(1, 20)
	})},
	{name: "trap:omission.payroll_business_realestate", rate: 0.003, apply: candidate(func(g *gen, p *person) {
		g.poverty(p, "monitored")
		switch g.r.IntN(3) {
		case 0:
			g.payroll(p, "active", 4200)
		case 1:
			g.business(p, "sole_trader", "active", 20000)
		default:
			g.realestate(p, "commercial", "normal", 60, 0)
		}
	})},
}

func vehicleRec(g *gen, typ, status string, price float64) sources.Vehicle {
	var p person
	g.vehicle(&p, typ, status, price)
	return p.r.vehicle[0]
}

func vehicleTrap(typ, status string, price float64, disabled bool) func(g *gen, h, _ *household) {
	return func(g *gen, h, _ *household) {
		p := g.adult(h).p
		g.vehicle(p, typ, status, price)
		p.r.vehicle[len(p.r.vehicle)-1].Disabled = disabled
	}
}

// splitDeposits spreads total (whole 元) over the adults' bank records.
func splitDeposits(g *gen, h *household, total float64) {
	n := len(h.members)
	left := total
	for i, m := range h.members {
		if i == n-1 {
			g.deposit(m.p, left)
			return
		}
		part := float64(int(left * g.r.Float64() * 0.7))
		g.deposit(m.p, part)
		left -= part
	}
}

// hiddenHousemate puts a person on the head's hukou who is not on the
// roster. For a spouse, a spouse already on the roster is taken off it (the
// household hid them); otherwise one is created.
func hiddenHousemate(g *gen, h *household, rel, status string) *person {
	head := h.head().p
	var hm *person
	if rel == "spouse" {
		for i, m := range h.members {
			if m.relation == "spouse" && len(h.members) > 1 {
				hm = m.p
				hm.rosters = nil
				h.members = append(h.members[:i:i], h.members[i+1:]...)
				break
			}
		}
		if hm == nil {
			hm = g.newPerson(g.dobForAge(g.age(head)+g.r.IntN(7)-3), !head.male, "")
		}
	} else {
		age := g.age(head) - 20 - g.r.IntN(10)
		if age < 18 {
			age = 18
		}
		hm = g.newPerson(g.dobForAge(age), g.r.IntN(2) == 0, string([]rune(head.name)[:1]))
	}
	hm.hukou, hm.rel = head.hukou, rel
	if status != "normal" {
		hm.pstatus, hm.pdate = status, g.monthsAgo(2, 30)
	}
	return hm
}

func setFiled(h *household, filed bool) {
	for _, m := range h.members {
		m.filed = filed
	}
}

// candidate builds a plant that adds one person outside the roster.
func candidate(f func(g *gen, p *person)) func(g *gen, h, _ *household) {
	return func(g *gen, h, _ *household) {
		p := g.newPerson(g.dobForAge(18+g.r.IntN(70)), g.r.IntN(2) == 0, "")
		p.hukou, p.rel = g.newHukou(), "head"
		f(g, p)
		g.b.labels = append(g.b.labels, label{person: p.id}) // the caller fills in the label
	}
}
