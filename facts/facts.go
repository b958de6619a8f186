// Package facts holds what is known about a household after matching: its
// roster rows and, per member, every source record tied to that member. The
// matcher builds facts; rules read them; the index stores them.
//
// Facts are plain data. Slices are ordered deterministically (members in
// roster order, records by kind, file and row) so that every consumer sees
// the same facts whatever the number of workers that built them.
package facts

import (
	"time"

	"github.com/hedui/hedui/sources"
	"github.com/hedui/hedui/sources/personid"
)

// Household is a household under review, or an omission candidate.
type Household struct {
	ID               string    `expr:"id" json:"household_id"` // empty for an omission candidate
	Region           string    `expr:"region_code" json:"region_code"`
	Area             string    `expr:"area" json:"area"`             // urban | rural
	Assistance       string    `expr:"assistance" json:"assistance"` // dibao | tekun | edge; empty for a candidate
	Status           string    `expr:"status" json:"status"`         // recipient | applicant; empty for a candidate
	MonthlyBenefit   float64   `expr:"monthly_benefit" json:"monthly_benefit"`
	Since            time.Time `expr:"since" json:"since,omitzero"`
	ApplicationDate  time.Time `expr:"application_date" json:"application_date,omitzero"`
	AuthorizationRef string    `expr:"authorization_ref" json:"authorization_ref,omitempty"`
	// Candidate marks an omission candidate: a person found in the poverty or
	// disability source who is on no roster household. Members then holds
	// that one person.
	Candidate bool      `expr:"candidate" json:"candidate,omitempty"`
	Members   []*Member `expr:"members" json:"members"`
}

// Member is one person of a household with every record matched to them.
type Member struct {
	Key           personid.Key `expr:"key" json:"-"`
	PersonID      string       `expr:"person_id" json:"person_id"` // canonical 18 characters
	Name          string       `expr:"name" json:"name"`
	Relation      string       `expr:"relation" json:"relation"` // head | spouse | child | parent | other
	RelativeFiled bool         `expr:"relative_filed" json:"relative_filed"`
	// Roster is the member's roster row; nil for an omission candidate.
	Roster *sources.RosterMember `expr:"roster" json:"roster,omitempty"`
	// OtherHouseholds lists the other roster households this person is on.
	OtherHouseholds []string `expr:"other_households" json:"other_households,omitempty"`

	Police     []*sources.Police     `expr:"police" json:"police,omitempty"`
	Vehicles   []*sources.Vehicle    `expr:"vehicles" json:"vehicles,omitempty"`
	RealEstate []*sources.RealEstate `expr:"realestate" json:"realestate,omitempty"`
	Pension    []*sources.Pension    `expr:"pension" json:"pension,omitempty"`
	Fund       []*sources.Fund       `expr:"fund" json:"fund,omitempty"`
	Court      []*sources.Court      `expr:"court" json:"court,omitempty"`
	Business   []*sources.Business   `expr:"business" json:"business,omitempty"`
	Payroll    []*sources.Payroll    `expr:"payroll" json:"payroll,omitempty"`
	Medical    []*sources.Medical    `expr:"medical" json:"medical,omitempty"`
	Disability []*sources.Disability `expr:"disability" json:"disability,omitempty"`
	Poverty    []*sources.Poverty    `expr:"poverty" json:"poverty,omitempty"`
	Deposit    []*sources.Deposit    `expr:"deposit" json:"deposit,omitempty"`
	Staff      []*sources.Staff      `expr:"staff" json:"staff,omitempty"`

	// Housemates are the people the household register (police) puts on the
	// same hukou as this member and who are not on this household's roster,
	// each with their own staff records (for relative.unfiled).
	Housemates []*Housemate `expr:"housemates" json:"housemates,omitempty"`
}

// Housemate is a person on a member's hukou who is not on the roster household.
type Housemate struct {
	Police *sources.Police  `expr:"police" json:"police"`
	Staff  []*sources.Staff `expr:"staff" json:"staff,omitempty"`
}

// Add appends rec to the member's list for its kind. Records of the roster
// kind are ignored.
func (m *Member) Add(rec sources.Record) {
	switch r := rec.(type) {
	case *sources.Police:
		m.Police = append(m.Police, r)
	case *sources.Vehicle:
		m.Vehicles = append(m.Vehicles, r)
	case *sources.RealEstate:
		m.RealEstate = append(m.RealEstate, r)
	case *sources.Pension:
		m.Pension = append(m.Pension, r)
	case *sources.Fund:
		m.Fund = append(m.Fund, r)
	case *sources.Court:
		m.Court = append(m.Court, r)
	case *sources.Business:
		m.Business = append(m.Business, r)
	case *sources.Payroll:
		m.Payroll = append(m.Payroll, r)
	case *sources.Medical:
		m.Medical = append(m.Medical, r)
	case *sources.Disability:
		m.Disability = append(m.Disability, r)
	case *sources.Poverty:
		m.Poverty = append(m.Poverty, r)
	case *sources.Deposit:
		m.Deposit = append(m.Deposit, r)
	case *sources.Staff:
		m.Staff = append(m.Staff, r)
	}
}
