package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hedui/hedui/sources"
)

// person is one resident: every person has a police (户籍) row.
type person struct {
	id      string // canonical 18 characters
	name    string // the name on the roster (and usually in police)
	pname   string // the name in police
	dob     time.Time
	male    bool
	region  string
	hukou   string
	rel     string // relation_to_head in police
	pstatus string // police status
	pdate   time.Time
	rosters []*member // roster rows of this person (more than one: a duplicate)
	r       recs
}

// recs holds a person's source records in canonical form, all matched by ID.
type recs struct {
	vehicle    []sources.Vehicle
	realestate []sources.RealEstate
	pension    []sources.Pension
	fund       []sources.Fund
	court      []sources.Court
	business   []sources.Business
	payroll    []sources.Payroll
	medical    []sources.Medical
	disability []sources.Disability
	poverty    []sources.Poverty
	deposit    []sources.Deposit
	staff      []sources.Staff
}

// household is one roster household.
type household struct {
	id         string
	region     string
	area       string
	assistance string
	status     string
	benefit    float64
	since      time.Time
	appDate    time.Time
	auth       string
	members    []*member
}

// member is one roster row.
type member struct {
	p        *person
	hh       *household
	relation string
	filed    bool
	rawID    string // the ID as written to the roster (valid, maybe messy)
}

// ndVehicle is a vehicle row whose owner ID is invalid but whose name,
// birth date and region identify a roster member (matched name_dob).
type ndVehicle struct {
	v   sources.Vehicle
	raw string
	bad dirtyKind
	p   *person
}

// label notes why a household or person was planted, for plants.csv.
type label struct {
	household, person, label string
}

// block is a unit of generation: a run of roster households of one county
// and a share of the county's wider population. Every record about a
// person of the block is generated within the block, so truth is computed
// block by block.
type block struct {
	county     county
	index      int // block number within the run, for seeding
	people     []*person
	households []*household
	nd         []ndVehicle
	labels     []label
}

// countyState is what must persist across the blocks of one county.
type countyState struct {
	c        county
	slots    *idSlots
	hukouSeq int
	plateSeq int
	certSeq  int
	caseSeq  int
	bizSeq   int
	rareSeq  int
	authSeq  int
}

// gen carries the run-wide settings while generating.
type gen struct {
	asOf time.Time
	cs   *countyState
	r    *rand.Rand
	b    *block
}

func (g *gen) pick(ss []string) string { return ss[g.r.IntN(len(ss))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// between returns a random day in [from, to].
func (g *gen) between(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours()/24) + 1
	if days < 1 {
		return from
	}
	return from.AddDate(0, 0, g.r.IntN(days))
}

// monthsAgo returns a random day between a and b months before as_of (a < b),
// staying a few days clear of the month boundaries so window tests are robust.
func (g *gen) monthsAgo(a, b int) time.Time {
	hi := g.asOf.AddDate(0, -a, -3)
	lo := g.asOf.AddDate(0, -b, 3)
	return g.between(lo, hi)
}

var latestBirth = time.Date(2025, 10, 31, 0, 0, 0, 0, time.UTC)

// dobForAge draws a birth date for an age in years at as_of.
func (g *gen) dobForAge(age int) time.Time {
	d := g.asOf.AddDate(-age, 0, -g.r.IntN(365))
	if d.After(latestBirth) {
		d = latestBirth.AddDate(0, 0, -g.r.IntN(300))
	}
	if y := d.Year(); y < 1901 {
		d = time.Date(1901, d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	}
	return d
}

func (g *gen) age(p *person) int {
	a := g.asOf.Year() - p.dob.Year()
	if g.asOf.YearDay() < p.dob.YearDay() {
		a--
	}
	return a
}

func (g *gen) givenName(male bool) string {
	pool := givenFemale
	if male {
		pool = givenMale
	}
	n := 1 + g.r.IntN(2)
	if g.r.IntN(5) == 0 {
		n = 1
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(pool[g.r.IntN(len(pool))])
	}
	return b.String()
}

// newPerson creates a resident with a fresh unique ID, on no hukou yet.
func (g *gen) newPerson(dob time.Time, male bool, surname string) *person {
	if surname == "" {
		surname = g.pick(surnames)
	}
	seq := g.cs.slots.take(g.r, dob, male)
	p := &person{
		id: makeID(g.cs.c.Code, dob, seq), dob: dob, male: male, region: g.cs.c.Code,
		pstatus: "normal",
	}
	p.name = surname + g.givenName(male)
	p.pname = p.name
	g.b.people = append(g.b.people, p)
	return p
}

// rareName renames p with a name no ordinary person has, unique in its county.
func (g *gen) rareName(p *person) {
	n := g.cs.rareSeq
	g.cs.rareSeq++
	k := len(rareGiven)
	given := []rune{rareGiven[n%k], rareGiven[(n/k)%k]}
	if n >= k*k {
		given = append(given, rareGiven[(n/(k*k))%k])
	}
	p.name = g.pick(surnames) + string(given)
	p.pname = p.name
}

func (g *gen) newHukou() string {
	g.cs.hukouSeq++
	return fmt.Sprintf("%s%09d", g.cs.c.Code, g.cs.hukouSeq)
}

// family builds the people of a family of n with relations to its head:
// head, spouse, children and parents, with plausible ages.
func (g *gen) family(n int, headAge int) ([]*person, []string) {
	male := g.r.IntN(2) == 0
	head := g.newPerson(g.dobForAge(headAge), male, "")
	surname := string([]rune(head.name)[:1])
	people := []*person{head}
	rels := []string{"head"}
	hasSpouse := n >= 2 && g.r.IntN(10) < 7
	if hasSpouse {
		age := headAge + g.r.IntN(9) - 4
		if age < 20 {
			age = 20
		}
		people = append(people, g.newPerson(g.dobForAge(age), !male, ""))
		rels = append(rels, "spouse")
	}
	for len(people) < n {
		// A parent when the head is young enough to have one alive.
		if headAge < 55 && g.r.IntN(4) == 0 {
			pa := headAge + 22 + g.r.IntN(12)
			people = append(people, g.newPerson(g.dobForAge(pa), g.r.IntN(2) == 0, ""))
			rels = append(rels, "parent")
			continue
		}
		ca := headAge - 20 - g.r.IntN(18)
		if ca < 0 {
			ca = g.r.IntN(3)
		}
		cm := g.r.IntN(2) == 0
		cs := surname
		if !male && g.r.IntN(3) == 0 {
			cs = ""
		}
		people = append(people, g.newPerson(g.dobForAge(ca), cm, cs))
		rels = append(rels, "child")
	}
	hukou := g.newHukou()
	for i, p := range people {
		p.hukou = hukou
		p.rel = rels[i]
	}
	return people, rels
}

// householdSize draws a roster household size, mean about 2.5.
func (g *gen) householdSize() int {
	x := g.r.IntN(100)
	switch {
	case x < 30:
		return 1
	case x < 55:
		return 2
	case x < 75:
		return 3
	case x < 88:
		return 4
	case x < 96:
		return 5
	}
	return 6
}

// rosterHousehold creates a roster household as the plant asks: size,
// assistance and status, when given, else drawn.
func (g *gen) rosterHousehold(id string, sp plant) *household {
	n := g.householdSize()
	if sp.minSize > 0 && n < sp.minSize {
		n = sp.minSize
	}
	if sp.maxSize > 0 && n > sp.maxSize {
		n = sp.maxSize
	}
	headAge := 28 + g.r.IntN(50)
	if n == 1 {
		headAge = 45 + g.r.IntN(40)
	}
	if sp.minHeadAge > 0 && headAge < sp.minHeadAge {
		headAge = sp.minHeadAge + g.r.IntN(10)
	}
	people, rels := g.family(n, headAge)
	h := &household{id: id, region: g.cs.c.Code}
	urbanShare := 0.25
	if g.cs.c.urban() {
		urbanShare = 0.8
	}
	h.area = "rural"
	if g.chance(urbanShare) {
		h.area = "urban"
	}
	switch x := g.r.IntN(100); {
	case x < 75:
		h.assistance = "dibao"
	case x < 87:
		h.assistance = "tekun"
	default:
		h.assistance = "edge"
	}
	if len(sp.assist) > 0 {
		h.assistance = sp.assist[g.r.IntN(len(sp.assist))]
	}
	h.status = "recipient"
	if g.chance(0.08) {
		h.status = "applicant"
	}
	if sp.status != "" {
		h.status = sp.status
	}
	std := monthlyStandard(h.area)
	switch h.assistance {
	case "dibao":
		h.benefit = float64(int(std*float64(n)*(0.4+0.6*g.r.Float64())/10) * 10)
	case "tekun":
		h.benefit = 832 * float64(n)
	}
	if h.status == "recipient" {
		h.since = g.between(time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC), g.asOf.AddDate(0, -3, 0))
	} else {
		h.benefit = 0
		h.appDate = g.between(g.asOf.AddDate(0, 0, -50), g.asOf.AddDate(0, 0, -5))
		g.cs.authSeq++
		h.auth = fmt.Sprintf("SQ%s%d%06d", h.region, g.asOf.Year(), g.cs.authSeq)
	}
	filed := g.chance(0.05)
	for i, p := range people {
		h.addMember(p, rels[i], filed)
	}
	g.b.households = append(g.b.households, h)
	return h
}

func (h *household) addMember(p *person, relation string, filed bool) *member {
	m := &member{p: p, hh: h, relation: relation, filed: filed, rawID: p.id}
	h.members = append(h.members, m)
	p.rosters = append(p.rosters, m)
	return m
}

// monthlyStandard is the default 低保 standard in 元/person/month.
func monthlyStandard(area string) float64 {
	if area == "urban" {
		return 7680.0 / 12
	}
	return 4500.0 / 12
}

// adult returns a random member aged 18 or more, else the head.
func (g *gen) adult(h *household) *member {
	var adults []*member
	for _, m := range h.members {
		if g.age(m.p) >= 18 {
			adults = append(adults, m)
		}
	}
	if len(adults) == 0 {
		return h.members[0]
	}
	return adults[g.r.IntN(len(adults))]
}

func (h *household) head() *member { return h.members[0] }
