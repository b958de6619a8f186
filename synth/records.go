package synth

import (
	"fmt"
	"math"
	"time"

	"github.com/hedui/hedui/sources"
)

// kindMask selects source kinds a plant controls: the benign generator
// leaves those kinds alone for the plant's household.
type kindMask uint16

const (
	mVehicle kindMask = 1 << iota
	mRealEstate
	mPension
	mFund
	mCourt
	mBusiness
	mPayroll
	mMedical
	mDisability
	mPoverty
	mDeposit
	mStaff
	mIncome = mPension | mFund | mPayroll | mMedical
	mAll    = 1<<12 - 1
)

func (g *gen) plate() string {
	g.cs.plateSeq++
	letter := "ABCDEFGHJKLMNPQRS"[int(g.cs.c.Code[2]-'0')*3%17]
	return fmt.Sprintf("云%c%05d", letter, g.cs.plateSeq%100000)
}

func (g *gen) cert() string {
	g.cs.certSeq++
	return fmt.Sprintf("云(%d)%s不动产权第%07d号", 2015+g.cs.certSeq%11, g.cs.c.Name, g.cs.certSeq)
}

func (g *gen) caseNo() string {
	g.cs.caseSeq++
	return fmt.Sprintf("(%d)云%s民初%d号", g.asOf.Year()-g.r.IntN(3), g.cs.c.Code[2:], g.cs.caseSeq)
}

func (g *gen) uscc() string {
	g.cs.bizSeq++
	return fmt.Sprintf("92%s%09d%d", g.cs.c.Code, g.cs.bizSeq%1000000000, g.cs.bizSeq%10)
}

func (g *gen) vehicle(p *person, typ, status string, price float64) {
	use := "A" // 非营运
	if typ[0] == 'H' {
		use = "F" // 货运
	}
	p.r.vehicle = append(p.r.vehicle, sources.Vehicle{
		PlateNo: g.plate(), VehicleType: typ, UseNature: use, Status: status, Price: price,
		RegisterDate: g.between(time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC), g.asOf.AddDate(0, -1, 0)),
	})
}

func (g *gen) realestate(p *person, usage, status string, area, share float64) {
	p.r.realestate = append(p.r.realestate, sources.RealEstate{
		CertNo: g.cert(), Usage: usage, AreaM2: area, Share: share, Status: status,
		RegisterDate: g.between(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), g.asOf.AddDate(0, -1, 0)),
	})
}

func (g *gen) pension(p *person, scheme, state string, amount float64) {
	base := 0.0
	if scheme != "resident" {
		base = float64(3000 + g.r.IntN(50)*100)
	}
	p.r.pension = append(p.r.pension, sources.Pension{
		Scheme: scheme, State: state, MonthlyAmount: amount, ContributionBase: base,
		Period: time.Date(g.asOf.Year(), g.asOf.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0),
	})
}

var employers = []string{"云南省第一人民医院", "昆明市第三中学", "县人民政府办公室", "县自然资源局", "县中心小学",
	"乡镇卫生院", "县公安局", "县水务局", "市供电局", "县农业农村局"}

func (g *gen) fund(p *person, status string, deposit float64) {
	last := time.Date(g.asOf.Year(), g.asOf.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	if status != "active" {
		last = last.AddDate(0, -3-g.r.IntN(30), 0)
	}
	p.r.fund = append(p.r.fund, sources.Fund{
		Employer: g.pick(employers), MonthlyDeposit: deposit, DepositBase: math.Round(deposit / 0.24),
		AccountStatus: status, LastDepositMonth: last,
	})
}

func (g *gen) court(p *person, caseType string, eff time.Time) {
	p.r.court = append(p.r.court, sources.Court{
		CaseNo: g.caseNo(), CaseType: caseType, EffectiveDate: eff, Role: g.pick([]string{"原告", "被告"}),
	})
}

var shopNames = []string{"便利店", "农资经营部", "餐馆", "五金店", "建材经营部", "农家乐", "汽车修理部", "种植专业合作社", "商贸有限公司", "建筑工程有限公司"}

func (g *gen) business(p *person, role, status string, capital float64) {
	name := g.cs.c.Name + string([]rune(p.name)[:1]) + "记" + g.pick(shopNames[:6])
	if role != "sole_trader" {
		name = g.cs.c.Name + g.pick([]string{"兴达", "鑫源", "宏发", "滇峰", "润泽", "恒通"}) + g.pick(shopNames[6:])
	}
	p.r.business = append(p.r.business, sources.Business{
		USCC: g.uscc(), EntityName: name, Role: role, SubscribedCapital: capital, Status: status,
		Established: g.between(time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), g.asOf.AddDate(0, -2, 0)),
	})
}

func (g *gen) payroll(p *person, status string, salary float64) {
	p.r.payroll = append(p.r.payroll, sources.Payroll{Employer: g.pick(employers), MonthlySalary: salary, Status: status})
}

// medical adds a settlement; selfPaid in 元 (whole fen).
func (g *gen) medical(p *person, when time.Time, selfPaid float64) {
	total := math.Round(selfPaid*(1.5+g.r.Float64()*2)*100) / 100
	p.r.medical = append(p.r.medical, sources.Medical{SettleDate: when, TotalCost: total, SelfPaid: selfPaid})
}

func (g *gen) disability(p *person, category string, grade int) {
	p.r.disability = append(p.r.disability, sources.Disability{Category: category, Grade: grade})
}

func (g *gen) poverty(p *person, status string) {
	p.r.poverty = append(p.r.poverty, sources.Poverty{Status: status, HouseholdNo: "FP" + p.hukou})
}

func (g *gen) deposit(p *person, balance float64) {
	p.r.deposit = append(p.r.deposit, sources.Deposit{Balance: balance, AsOf: g.asOf.AddDate(0, 0, -1)})
}

func (g *gen) staff(p *person, role string) {
	p.r.staff = append(p.r.staff, sources.Staff{Role: role})
}

var disabilityCategories = []string{"physical", "visual", "hearing", "speech", "intellectual", "mental", "multiple"}

// benign gives a roster member records that no rule flags: cheap or
// exempt vehicles, one dwelling, resident pensions, small deposits, old
// court cases, closed businesses. Kinds in skip are left to the plant.
func (g *gen) benign(m *member, skip kindMask) {
	p, h := m.p, m.hh
	age := g.age(p)
	adult := age >= 18
	if skip&mVehicle == 0 && adult && g.chance(0.10) {
		switch x := g.r.IntN(100); {
		case x < 50:
			g.vehicle(p, g.pick([]string{"M21", "M22"}), "normal", float64(3000+g.r.IntN(60)*100))
		case x < 70:
			g.vehicle(p, "K33", "normal", float64(8000+g.r.IntN(200)*100)) // ≤ 27,900
		case x < 85:
			g.vehicle(p, "K33", g.pick([]string{"scrapped", "deregistered"}), float64(40000+g.r.IntN(500)*100))
		default:
			g.vehicle(p, g.pick([]string{"N11", "T11", "T21"}), "normal", float64(20000+g.r.IntN(400)*100))
		}
	}
	if skip&mRealEstate == 0 && m.relation == "head" && g.chance(0.45) {
		g.realestate(p, "residential", "normal", float64(35+g.r.IntN(90))+0.5*float64(g.r.IntN(2)), 0)
		if g.chance(0.1) {
			g.realestate(p, "parking", "normal", 12.5, 0)
		}
	}
	if skip&mPension == 0 {
		switch {
		case age >= 60 && h.assistance != "dibao" && h.area == "urban" && g.chance(0.3):
			g.pension(p, "employee", "receiving", float64(1200+g.r.IntN(1500)))
		case age >= 60 && g.chance(0.85):
			g.pension(p, "resident", "receiving", float64(103+g.r.IntN(150)))
		case adult && age < 60 && g.chance(0.4):
			g.pension(p, "resident", "paying", 0)
		}
	}
	if skip&mCourt == 0 && adult && g.chance(0.02) {
		if g.chance(0.5) {
			g.court(p, "support", g.monthsAgo(1, 40))
		} else {
			g.court(p, "divorce", g.monthsAgo(15, 90))
		}
	}
	if skip&mBusiness == 0 && adult && g.chance(0.03) {
		g.business(p, "sole_trader", g.pick([]string{"deregistered", "revoked"}), float64(g.r.IntN(5)*10000))
	}
	if skip&mPayroll == 0 && age >= 55 && g.chance(0.01) {
		g.payroll(p, "retired", float64(3000+g.r.IntN(3000)))
	}
	if skip&mMedical == 0 && g.chance(0.25) {
		for k := 1 + g.r.IntN(3); k > 0; k-- {
			g.medical(p, g.monthsAgo(0, 24), float64(5000+g.r.IntN(300000))/100)
		}
	}
	if skip&mDisability == 0 && g.chance(0.08) {
		if h.assistance == "edge" {
			g.disability(p, g.pick([]string{"physical", "visual", "hearing", "speech"}), 3+g.r.IntN(2))
		} else {
			g.disability(p, g.pick(disabilityCategories), 1+g.r.IntN(4))
		}
	}
	if skip&mPoverty == 0 && h.area == "rural" && g.chance(0.1) {
		g.poverty(p, g.pick([]string{"stable", "stable", "monitored", "exited"}))
	}
	if skip&mDeposit == 0 && adult && g.chance(0.3) {
		g.deposit(p, float64(10000+g.r.IntN(290000))/100)
	}
}

// background gives a person outside the roster records at plausible rates,
// flagging ones included: they matter only if the person is an omission
// candidate.
func (g *gen) background(p *person, urban bool) {
	age := g.age(p)
	adult := age >= 18
	if adult && age < 75 && g.chance(0.3) {
		switch x := g.r.IntN(100); {
		case x < 55:
			st := "normal"
			if g.chance(0.12) {
				st = g.pick([]string{"scrapped", "transferred", "deregistered", "seized"})
			}
			g.vehicle(p, g.pick([]string{"K33", "K33", "K32", "K31", "K39"}), st, float64(35000+g.r.IntN(2200)*100))
		case x < 80:
			g.vehicle(p, g.pick([]string{"M21", "M22", "M11"}), "normal", float64(3000+g.r.IntN(80)*100))
		case x < 87:
			g.vehicle(p, g.pick([]string{"H31", "H41", "H21"}), "normal", float64(40000+g.r.IntN(1500)*100))
		default:
			g.vehicle(p, g.pick([]string{"N11", "T11", "T21"}), "normal", float64(15000+g.r.IntN(400)*100))
		}
	}
	if adult {
		switch x := g.r.IntN(100); {
		case x < 50:
			g.realestate(p, "residential", "normal", float64(50+g.r.IntN(110)), 0)
		case x < 62:
			g.realestate(p, "residential", "normal", float64(60+g.r.IntN(80)), 0)
			g.realestate(p, "residential", "normal", float64(40+g.r.IntN(90)), 0.5)
		case x < 65:
			g.realestate(p, "commercial", "normal", float64(30+g.r.IntN(200)), 0)
		case x < 67:
			g.realestate(p, "office", "normal", float64(50+g.r.IntN(200)), 0)
		case x < 72:
			g.realestate(p, "parking", "normal", 12.5, 0)
		case x < 73:
			g.realestate(p, "industrial", "normal", float64(200+g.r.IntN(2000)), 0)
		}
	}
	switch {
	case age >= 60 && urban && g.chance(0.5):
		g.pension(p, "employee", "receiving", float64(1800+g.r.IntN(3000)))
	case age >= 60:
		g.pension(p, "resident", "receiving", float64(103+g.r.IntN(200)))
	case adult && g.chance(0.6):
		g.pension(p, g.pick([]string{"employee", "resident", "resident"}), "paying", 0)
	}
	if urban && adult && age < 60 && g.chance(0.25) {
		st := "active"
		if g.chance(0.2) {
			st = g.pick([]string{"sealed", "closed"})
		}
		g.fund(p, st, float64(300+g.r.IntN(2700)))
	}
	if adult && g.chance(0.015) {
		g.court(p, g.pick([]string{"divorce", "divorce", "support", "other", "other"}), g.monthsAgo(0, 60))
	}
	if adult && g.chance(0.08) {
		if g.chance(0.6) {
			st := "active"
			if g.chance(0.2) {
				st = g.pick([]string{"deregistered", "revoked"})
			}
			g.business(p, "sole_trader", st, float64(g.r.IntN(10)*10000))
		} else {
			st := "active"
			if g.chance(0.25) {
				st = g.pick([]string{"deregistered", "revoked"})
			}
			g.business(p, g.pick([]string{"legal_rep", "shareholder"}), st, float64((1+g.r.IntN(500))*10000))
		}
	}
	if age >= 22 && age < 60 && g.chance(0.05) {
		g.payroll(p, "active", float64(3500+g.r.IntN(6000)))
	}
	if g.chance(0.2) {
		for k := 1 + g.r.IntN(3); k > 0; k-- {
			g.medical(p, g.monthsAgo(0, 24), float64(20+g.r.IntN(5000)))
		}
	}
	if g.chance(0.027) {
		grade := 4
		switch x := g.r.IntN(100); {
		case x < 12:
			grade = 1
		case x < 32:
			grade = 2
		case x < 62:
			grade = 3
		}
		g.disability(p, g.pick(disabilityCategories), grade)
	}
	povRate := 0.04
	if urban {
		povRate = 0.005
	}
	if g.chance(povRate) {
		st := "stable"
		switch x := g.r.IntN(100); {
		case x < 15:
			st = "monitored"
		case x < 30:
			st = "exited"
		}
		g.poverty(p, st)
	}
	if adult && g.chance(0.45) {
		g.deposit(p, math.Round(math.Exp(8+2*g.r.NormFloat64())*100)/100)
	}
	if adult && age < 65 && g.chance(0.003) {
		g.staff(p, g.pick([]string{"civil-affairs", "village-committee", "village-committee", "handler"}))
	}
	switch x := g.r.IntN(1000); {
	case x < 8:
		p.pstatus, p.pdate = "deceased", g.monthsAgo(0, 36)
	case x < 15:
		p.pstatus, p.pdate = "moved", g.monthsAgo(0, 36)
	case x < 17:
		p.pstatus, p.pdate = "cancelled", g.monthsAgo(0, 36)
	}
}
