package synth

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Raw row layouts, one per source as the department ships it. Column names,
// codes, units and date layouts differ on purpose; sources.yaml maps them.
// They are exported for tests that edit generated files.

// RosterRow is a row of roster.parquet, the households under review.
type RosterRow struct {
	HouseholdID      string  `parquet:"household_id"`
	PersonID         string  `parquet:"person_id"`
	Name             string  `parquet:"name"`
	Relation         string  `parquet:"relation,dict"`
	RegionCode       string  `parquet:"region_code,dict"`
	Area             string  `parquet:"area,dict"`
	Assistance       string  `parquet:"assistance,dict"`
	MonthlyBenefit   float64 `parquet:"monthly_benefit"`
	Since            *int32  `parquet:"since,date"`
	Status           string  `parquet:"status,dict"`
	ApplicationDate  *int32  `parquet:"application_date,date"`
	AuthorizationRef string  `parquet:"authorization_ref"`
	RelativeFiled    bool    `parquet:"relative_filed"`
}

// PoliceRow is a row of the police household register (police-*.parquet).
type PoliceRow struct {
	PersonID       string `parquet:"person_id"`
	Name           string `parquet:"name"`
	Gender         string `parquet:"gender,dict"` // GB/T 2261.1: 1 male, 2 female
	BirthDate      *int32 `parquet:"birth_date,date"`
	HukouNo        string `parquet:"hukou_no"`
	RelationToHead string `parquet:"relation_to_head,dict"`
	Status         string `parquet:"status,dict"`
	StatusDate     *int32 `parquet:"status_date,date"`
	RegionCode     string `parquet:"region_code,dict"`
}

// VehicleRow is a row of vehicle.parquet, in the vehicle office's Chinese column names.
type VehicleRow struct {
	OwnerID      string `parquet:"身份证号码"`
	Name         string `parquet:"姓名"`
	BirthDate    string `parquet:"出生日期"` // %Y%m%d
	RegionCode   string `parquet:"行政区划,dict"`
	PlateNo      string `parquet:"号牌号码"`
	VehicleType  string `parquet:"车辆类型,dict"`
	UseNature    string `parquet:"使用性质,dict"`
	RegisterDate string `parquet:"登记日期"` // %Y%m%d
	Status       string `parquet:"机动车状态,dict"`
	Price        int64  `parquet:"价格"`          // 分
	Disabled     string `parquet:"残疾人专用车,dict"` // 是/否
}

// PensionRow is a row of pension.parquet; amounts are text, as shipped.
type PensionRow struct {
	PersonID         string `parquet:"person_id"`
	Scheme           string `parquet:"scheme,dict"`
	State            string `parquet:"state,dict"`
	MonthlyAmount    string `parquet:"monthly_amount"`
	ContributionBase string `parquet:"contribution_base"`
	Period           string `parquet:"period,dict"`
}

// FundRow is a row of fund.parquet (housing provident fund).
type FundRow struct {
	PersonID         string  `parquet:"person_id"`
	Employer         string  `parquet:"employer,dict"`
	MonthlyDeposit   float64 `parquet:"monthly_deposit"`
	DepositBase      float64 `parquet:"deposit_base"`
	AccountStatus    string  `parquet:"account_status,dict"`
	LastDepositMonth string  `parquet:"last_deposit_month,dict"`
}

// CourtRow is a row of court.parquet (effective judgements).
type CourtRow struct {
	PartyID       string `parquet:"当事人证件号码"`
	CaseNo        string `parquet:"案号"`
	CaseType      string `parquet:"案由,dict"`
	EffectiveDate string `parquet:"生效日期"` // %Y/%m/%d
	Role          string `parquet:"诉讼地位,dict"`
}

// BusinessRow is a row of business.parquet (enterprise registrations).
type BusinessRow struct {
	PersonID          string  `parquet:"证件号码"`
	USCC              string  `parquet:"统一社会信用代码"`
	EntityName        string  `parquet:"企业名称"`
	Role              string  `parquet:"人员类型,dict"`
	SubscribedCapital float64 `parquet:"认缴出资额"` // 万元
	Status            string  `parquet:"登记状态,dict"`
	Established       *int32  `parquet:"成立日期,date"`
}

// PayrollRow is a row of payroll.parquet (public payroll).
type PayrollRow struct {
	PersonID      string `parquet:"person_id"`
	Employer      string `parquet:"employer,dict"`
	MonthlySalary string `parquet:"monthly_salary"`
	Status        string `parquet:"status,dict"`
}

// MedicalRow is a row of medical-*.parquet (medical settlements).
type MedicalRow struct {
	PersonID   string `parquet:"person_id"`
	SettleDate *int32 `parquet:"settle_date,date"`
	TotalCost  int64  `parquet:"total_cost"` // 分
	SelfPaid   int64  `parquet:"self_paid"`  // 分
}

// DisabilityRow is a row of disability.parquet.
type DisabilityRow struct {
	PersonID string `parquet:"person_id"`
	Name     string `parquet:"name"`
	Category string `parquet:"category,dict"` // GB/T 26341 codes 1–7
	Grade    int32  `parquet:"grade"`
}

// PovertyRow is a row of poverty.parquet (the poverty registry).
type PovertyRow struct {
	PersonID    string `parquet:"person_id"`
	Status      string `parquet:"status,dict"`
	HouseholdNo string `parquet:"household_no"`
}

// DepositRow is a row of deposit.parquet (bank deposits).
type DepositRow struct {
	PersonID string  `parquet:"person_id"`
	Balance  float64 `parquet:"balance"`
	AsOf     *int32  `parquet:"as_of,date"`
}

// StaffRow is a row of staff.parquet (the assistance agencies' staff).
type StaffRow struct {
	PersonID string `parquet:"person_id"`
	Name     string `parquet:"name"`
	Role     string `parquet:"role,dict"`
}

// codes maps canonical values to the raw codes a department writes; the
// manifest gets the reverse mapping.
type codes [][2]string // {raw, canonical}

func (c codes) raw(canonical string) string {
	for _, kv := range c {
		if kv[1] == canonical {
			return kv[0]
		}
	}
	panic("synth: no raw code for " + canonical)
}

var (
	genderCodes      = codes{{"1", "male"}, {"2", "female"}}
	vehicleStatus    = codes{{"A", "normal"}, {"B", "transferred"}, {"E", "scrapped"}, {"G", "deregistered"}, {"K", "seized"}}
	realestateUsage  = codes{{"住宅", "residential"}, {"商业", "commercial"}, {"办公", "office"}, {"工业", "industrial"}, {"车位", "parking"}, {"其他", "other"}}
	realestateStatus = codes{{"现势", "normal"}, {"注销", "cancelled"}, {"查封", "sealed"}}
	pensionScheme    = codes{{"企业职工基本养老保险", "employee"}, {"城乡居民基本养老保险", "resident"}, {"机关事业单位养老保险", "civil-service"}}
	pensionState     = codes{{"参保缴费", "paying"}, {"享受待遇", "receiving"}, {"暂停", "suspended"}}
	fundStatus       = codes{{"正常", "active"}, {"封存", "sealed"}, {"销户", "closed"}}
	courtCaseType    = codes{{"离婚纠纷", "divorce"}, {"抚养费纠纷", "support"}, {"赡养纠纷", "support"}, {"民间借贷纠纷", "other"}}
	businessRole     = codes{{"法定代表人", "legal_rep"}, {"股东", "shareholder"}, {"个体工商户经营者", "sole_trader"}}
	businessStatus   = codes{{"存续", "active"}, {"注销", "deregistered"}, {"吊销", "revoked"}}
	disabilityCat    = codes{{"1", "visual"}, {"2", "hearing"}, {"3", "speech"}, {"4", "physical"}, {"5", "intellectual"}, {"6", "mental"}, {"7", "multiple"}}
	povertyStatus    = codes{{"监测对象", "monitored"}, {"稳定脱贫", "stable"}, {"风险消除", "exited"}}
)

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

func days(t time.Time) *int32 {
	if t.IsZero() {
		return nil
	}
	d := int32(t.Sub(epoch).Hours() / 24)
	return &d
}

func fen(yuan float64) int64 { return int64(math.Round(yuan * 100)) }

func money(yuan float64) string { return strconv.FormatFloat(yuan, 'f', 2, 64) }

// pqSink writes rows of one layout to one Parquet file, in row groups.
type pqSink[T any] struct {
	rel  string // path relative to the output folder
	f    *os.File
	w    *parquet.GenericWriter[T]
	buf  []T
	rows int64
}

const rowGroupRows = 64 * 1024

func newSink[T any](out, rel string, codec string) (*pqSink[T], error) {
	f, err := os.Create(filepath.Join(out, rel))
	if err != nil {
		return nil, err
	}
	opts := []parquet.WriterOption{
		parquet.CreatedBy("hedui-synth", "1", ""),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
	}
	if codec == "snappy" {
		opts = append(opts, parquet.Compression(&parquet.Snappy))
	} else {
		opts = append(opts, parquet.Compression(&parquet.Zstd))
	}
	return &pqSink[T]{rel: rel, f: f, w: parquet.NewGenericWriter[T](f, opts...)}, nil
}

func (s *pqSink[T]) add(row T) error {
	s.buf = append(s.buf, row)
	s.rows++
	if len(s.buf) >= 4096 {
		return s.flush()
	}
	return nil
}

func (s *pqSink[T]) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	clear(s.buf)
	s.buf = s.buf[:0]
	return err
}

func (s *pqSink[T]) discard(out string) {
	s.f.Close()
	os.Remove(filepath.Join(out, s.rel))
}

func (s *pqSink[T]) close() error {
	if s == nil {
		return nil
	}
	err := s.flush()
	if e := s.w.Close(); err == nil {
		err = e
	}
	if e := s.f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", s.rel, err)
	}
	return nil
}

// csvSink writes the one CSV source, encoded in GB18030 as exported by
// many Chinese government systems.
type csvSink struct {
	rel  string
	rows int64
	f    *os.File
	bw   *bufio.Writer
	tw   *transform.Writer
	w    *csv.Writer
}

func newCSVSink(out, rel string, header []string) (*csvSink, error) {
	f, err := os.Create(filepath.Join(out, rel))
	if err != nil {
		return nil, err
	}
	s := &csvSink{rel: rel, f: f}
	s.bw = bufio.NewWriterSize(f, 1<<16)
	s.tw = transform.NewWriter(s.bw, simplifiedchinese.GB18030.NewEncoder())
	s.w = csv.NewWriter(s.tw)
	s.w.UseCRLF = true
	return s, s.w.Write(header)
}

func (s *csvSink) add(rec []string) error {
	s.rows++
	return s.w.Write(rec)
}

func (s *csvSink) discard(out string) {
	s.f.Close()
	os.Remove(filepath.Join(out, s.rel))
}

func (s *csvSink) close() error {
	s.w.Flush()
	err := s.w.Error()
	if e := s.tw.Close(); err == nil {
		err = e
	}
	if e := s.bw.Flush(); err == nil {
		err = e
	}
	if e := s.f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", s.rel, err)
	}
	return nil
}
