package sources

import (
	"time"

	"github.com/hedui/hedui/sources/personid"
)

// Kind names a source, as written in the manifest's `kind:` key.
type Kind string

// The roster and the 13 source kinds of the data contract (SPEC.md).
const (
	KindRoster     Kind = "roster"
	KindPolice     Kind = "police"
	KindVehicle    Kind = "vehicle"
	KindRealEstate Kind = "realestate"
	KindPension    Kind = "pension"
	KindFund       Kind = "fund"
	KindCourt      Kind = "court"
	KindBusiness   Kind = "business"
	KindPayroll    Kind = "payroll"
	KindMedical    Kind = "medical"
	KindDisability Kind = "disability"
	KindPoverty    Kind = "poverty"
	KindDeposit    Kind = "deposit"
	KindStaff      Kind = "staff"
)

// SourceKinds lists the 13 source kinds (the roster excluded) in the fixed
// order used by every report.
var SourceKinds = []Kind{
	KindPolice, KindVehicle, KindRealEstate, KindPension, KindFund, KindCourt,
	KindBusiness, KindPayroll, KindMedical, KindDisability, KindPoverty,
	KindDeposit, KindStaff,
}

// Match kinds: how a source record was tied to a person.
const (
	MatchID      = "id"       // by a valid citizen ID number
	MatchNameDOB = "name_dob" // by name + birth date + region, the row had no valid ID; weaker
)

// Record is one canonical row of any kind.
type Record interface {
	// Base returns the fields every record carries: key and provenance.
	Base() *Origin
}

// Origin holds what every canonical record carries besides its kind's own
// columns: the person key and where the row came from.
//
// Struct tags: `col` gives the canonical column name and options (see
// schema.go); `expr` gives the name rule expressions use. Fields without a
// `col` tag are not read from files.
type Origin struct {
	Key       personid.Key `expr:"key" json:"-"`
	PersonID  string       `expr:"person_id" json:"person_id"` // canonical 18 characters, or the raw value when invalid
	Name      string       `col:"name,opt" expr:"name" json:"name,omitempty"`
	BirthDate time.Time    `col:"birth_date,opt" expr:"birth_date" json:"birth_date,omitzero"`
	Region    string       `col:"region_code,opt" expr:"region_code" json:"region_code,omitempty"`

	Kind     Kind      `expr:"kind" json:"kind"`
	File     string    `expr:"file" json:"file"`
	Row      int64     `expr:"row" json:"row"` // 1-based data row within File
	Snapshot time.Time `expr:"snapshot" json:"snapshot"`
	Match    string    `expr:"match" json:"match,omitempty"` // MatchID or MatchNameDOB; empty on roster rows
}

// Base implements Record.
func (o *Origin) Base() *Origin { return o }

// RosterMember is one row of the roster: a member of a household under review.
type RosterMember struct {
	Origin           `col:"person_id"`
	HouseholdID      string    `col:"household_id,req" expr:"household_id" json:"household_id"`
	Relation         string    `col:"relation,req,enum=head|spouse|child|parent|other" expr:"relation" json:"relation"`
	Area             string    `col:"area,req,enum=urban|rural" expr:"area" json:"area"`
	Assistance       string    `col:"assistance,req,enum=dibao|tekun|edge" expr:"assistance" json:"assistance"`
	MonthlyBenefit   float64   `col:"monthly_benefit,amount" expr:"monthly_benefit" json:"monthly_benefit"`
	Since            time.Time `col:"since" expr:"since" json:"since,omitzero"`
	Status           string    `col:"status,req,enum=recipient|applicant" expr:"status" json:"status"`
	ApplicationDate  time.Time `col:"application_date" expr:"application_date" json:"application_date,omitzero"`
	AuthorizationRef string    `col:"authorization_ref" expr:"authorization_ref" json:"authorization_ref,omitempty"`
	RelativeFiled    bool      `col:"relative_filed" expr:"relative_filed" json:"relative_filed"`
}

// Police is a household-register (户籍) row.
type Police struct {
	Origin         `col:"person_id"`
	Gender         string    `col:"gender,enum=male|female" expr:"gender" json:"gender,omitempty"`
	HukouNo        string    `col:"hukou_no,req" expr:"hukou_no" json:"hukou_no"`
	RelationToHead string    `col:"relation_to_head,req,enum=head|spouse|child|parent|other" expr:"relation_to_head" json:"relation_to_head"`
	Status         string    `col:"status,req,enum=normal|deceased|cancelled|moved" expr:"status" json:"status"`
	StatusDate     time.Time `col:"status_date" expr:"status_date" json:"status_date,omitzero"`
}

// Vehicle is a motor-vehicle registration row (车管).
type Vehicle struct {
	Origin       `col:"owner_id"`
	PlateNo      string    `col:"plate_no,req" expr:"plate_no" json:"plate_no"`
	VehicleType  string    `col:"vehicle_type,req" expr:"vehicle_type" json:"vehicle_type"` // GA 24.4 code, e.g. K33, M21
	UseNature    string    `col:"use_nature" expr:"use_nature" json:"use_nature,omitempty"`
	RegisterDate time.Time `col:"register_date" expr:"register_date" json:"register_date,omitzero"`
	Status       string    `col:"status,req,enum=normal|scrapped|deregistered|transferred|seized" expr:"status" json:"status"`
	Price        float64   `col:"price,amount" expr:"price" json:"price"`
	Disabled     bool      `col:"disabled" expr:"disabled" json:"disabled,omitempty"` // 残疾人专用车
}

// RealEstate is a real-estate registration row (不动产).
type RealEstate struct {
	Origin       `col:"owner_id"`
	CertNo       string    `col:"cert_no,req" expr:"cert_no" json:"cert_no"`
	Usage        string    `col:"usage,req,enum=residential|commercial|office|industrial|parking|other" expr:"usage" json:"usage"`
	AreaM2       float64   `col:"area_m2,req" expr:"area_m2" json:"area_m2"`
	Share        float64   `col:"share" expr:"share" json:"share"` // owner's share, 0..1; 0 read as 1 (sole owner)
	RegisterDate time.Time `col:"register_date" expr:"register_date" json:"register_date,omitzero"`
	Status       string    `col:"status,req,enum=normal|cancelled|sealed" expr:"status" json:"status"`
}

// Pension is a pension-insurance row (养老保险).
type Pension struct {
	Origin           `col:"person_id"`
	Scheme           string    `col:"scheme,req,enum=employee|resident|civil-service" expr:"scheme" json:"scheme"`
	State            string    `col:"state,req,enum=paying|receiving|suspended" expr:"state" json:"state"`
	MonthlyAmount    float64   `col:"monthly_amount,amount" expr:"monthly_amount" json:"monthly_amount"`
	ContributionBase float64   `col:"contribution_base,amount" expr:"contribution_base" json:"contribution_base"`
	Period           time.Time `col:"period,format=%Y%m" expr:"period" json:"period,omitzero"` // first day of the month
}

// Fund is a housing provident-fund account row (住房公积金).
type Fund struct {
	Origin           `col:"person_id"`
	Employer         string    `col:"employer" expr:"employer" json:"employer,omitempty"`
	MonthlyDeposit   float64   `col:"monthly_deposit,req,amount" expr:"monthly_deposit" json:"monthly_deposit"` // both sides together
	DepositBase      float64   `col:"deposit_base,amount" expr:"deposit_base" json:"deposit_base"`
	AccountStatus    string    `col:"account_status,req,enum=active|sealed|closed" expr:"account_status" json:"account_status"`
	LastDepositMonth time.Time `col:"last_deposit_month,format=%Y%m" expr:"last_deposit_month" json:"last_deposit_month,omitzero"`
}

// Court is a court-judgment row (法院).
type Court struct {
	Origin        `col:"party_id"`
	CaseNo        string    `col:"case_no,req" expr:"case_no" json:"case_no"`
	CaseType      string    `col:"case_type,req,enum=divorce|support|other" expr:"case_type" json:"case_type"`
	EffectiveDate time.Time `col:"effective_date,req" expr:"effective_date" json:"effective_date"`
	Role          string    `col:"role" expr:"role" json:"role,omitempty"`
}

// Business is an enterprise-registration row (市场监管).
type Business struct {
	Origin            `col:"person_id"`
	USCC              string    `col:"uscc,req" expr:"uscc" json:"uscc"`
	EntityName        string    `col:"entity_name" expr:"entity_name" json:"entity_name,omitempty"`
	Role              string    `col:"role,req,enum=legal_rep|shareholder|sole_trader" expr:"role" json:"role"`
	SubscribedCapital float64   `col:"subscribed_capital,amount" expr:"subscribed_capital" json:"subscribed_capital"`
	Status            string    `col:"status,req,enum=active|deregistered|revoked" expr:"status" json:"status"`
	Established       time.Time `col:"established" expr:"established" json:"established,omitzero"`
}

// Payroll is a public-payroll row (财政供养).
type Payroll struct {
	Origin        `col:"person_id"`
	Employer      string  `col:"employer" expr:"employer" json:"employer,omitempty"`
	MonthlySalary float64 `col:"monthly_salary,req,amount" expr:"monthly_salary" json:"monthly_salary"`
	Status        string  `col:"status,req,enum=active|left|retired" expr:"status" json:"status"`
}

// Medical is a medical-insurance settlement row (医保结算).
type Medical struct {
	Origin     `col:"person_id"`
	SettleDate time.Time `col:"settle_date,req" expr:"settle_date" json:"settle_date"`
	TotalCost  float64   `col:"total_cost,amount" expr:"total_cost" json:"total_cost"`
	SelfPaid   float64   `col:"self_paid,req,amount" expr:"self_paid" json:"self_paid"`
}

// Disability is a disability-registry row (残联).
type Disability struct {
	Origin   `col:"person_id"`
	Category string `col:"category,req,enum=physical|visual|hearing|speech|intellectual|mental|multiple" expr:"category" json:"category"`
	Grade    int    `col:"grade,req" expr:"grade" json:"grade"` // 1 (most severe) to 4
}

// Poverty is a poverty-registry / monitoring row (扶贫/防返贫监测).
type Poverty struct {
	Origin      `col:"person_id"`
	Status      string `col:"status,req,enum=monitored|stable|exited" expr:"status" json:"status"`
	HouseholdNo string `col:"household_no" expr:"household_no" json:"household_no,omitempty"`
}

// Deposit is a bank-deposit row.
type Deposit struct {
	Origin  `col:"person_id"`
	Balance float64   `col:"balance,req,amount" expr:"balance" json:"balance"`
	AsOf    time.Time `col:"as_of" expr:"as_of" json:"as_of,omitzero"`
}

// Staff is a civil-affairs or village-committee staff row (民政/村居).
type Staff struct {
	Origin `col:"person_id"`
	Role   string `col:"role,req,enum=civil-affairs|village-committee|handler" expr:"role" json:"role"`
}
