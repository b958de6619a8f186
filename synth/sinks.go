package synth

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hedui/hedui/sources"
)

// Rates of messy IDs in the written files.
const (
	dirtyValidRate = 0.02  // normalizable mess on a valid number
	junkRate       = 0.003 // extra rows with an invalid number
	rosterDirty    = 0.01
)

// writers holds every output file while a run streams.
type writers struct {
	out  string
	asOf time.Time
	sum  *Summary

	roster     *pqSink[RosterRow]
	police     *pqSink[PoliceRow] // the current county's file
	policeAll  []string
	policeRows int64 // rows of the closed police files
	vehicle    *pqSink[VehicleRow]
	realestate *csvSink
	pension    *pqSink[PensionRow]
	fund       *pqSink[FundRow]
	court      *pqSink[CourtRow]
	business   *pqSink[BusinessRow]
	payroll    *pqSink[PayrollRow]
	medical    map[int]*pqSink[MedicalRow] // by settlement year
	disability *pqSink[DisabilityRow]
	poverty    *pqSink[PovertyRow]
	deposit    *pqSink[DepositRow]
	staff      *pqSink[StaffRow]

	truthTmp   *os.File
	truth      *bufio.Writer
	plantsF    *os.File
	plantsW    *bufio.Writer
	r          *rand.Rand // per block
	firstBlock bool
}

func newWriters(out string, asOf time.Time) (*writers, error) {
	w := &writers{out: out, asOf: asOf, medical: map[int]*pqSink[MedicalRow]{}, firstBlock: true}
	var err error
	open := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	open(func() (e error) { w.roster, e = newSink[RosterRow](out, "roster.parquet", "zstd"); return })
	open(func() (e error) { w.vehicle, e = newSink[VehicleRow](out, "sources/vehicle.parquet", "snappy"); return })
	open(func() (e error) {
		w.realestate, e = newCSVSink(out, "sources/realestate.csv",
			[]string{"权利人证件号码", "权利人", "不动产权证号", "用途", "建筑面积", "权利份额", "登记时间", "权属状态"})
		return
	})
	open(func() (e error) { w.pension, e = newSink[PensionRow](out, "sources/pension.parquet", "zstd"); return })
	open(func() (e error) { w.fund, e = newSink[FundRow](out, "sources/fund.parquet", "zstd"); return })
	open(func() (e error) { w.court, e = newSink[CourtRow](out, "sources/court.parquet", "snappy"); return })
	open(func() (e error) {
		w.business, e = newSink[BusinessRow](out, "sources/business.parquet", "zstd")
		return
	})
	open(func() (e error) { w.payroll, e = newSink[PayrollRow](out, "sources/payroll.parquet", "zstd"); return })
	open(func() (e error) {
		w.disability, e = newSink[DisabilityRow](out, "sources/disability.parquet", "zstd")
		return
	})
	open(func() (e error) { w.poverty, e = newSink[PovertyRow](out, "sources/poverty.parquet", "zstd"); return })
	open(func() (e error) { w.deposit, e = newSink[DepositRow](out, "sources/deposit.parquet", "zstd"); return })
	open(func() (e error) { w.staff, e = newSink[StaffRow](out, "sources/staff.parquet", "zstd"); return })
	open(func() (e error) {
		w.truthTmp, e = os.Create(filepath.Join(out, "truth.csv.part"))
		w.truth = bufio.NewWriterSize(w.truthTmp, 1<<16)
		return
	})
	open(func() (e error) {
		w.plantsF, e = os.Create(filepath.Join(out, "plants.csv"))
		w.plantsW = bufio.NewWriterSize(w.plantsF, 1<<16)
		w.plantsW.WriteString("household_id,person_id,plant\n")
		return
	})
	if err != nil {
		w.discard()
		return nil, err
	}
	return w, nil
}

// openCounty starts the police file of a county: police exports come per
// county (sources/police-<code>.parquet).
func (w *writers) openCounty(c county) error {
	if w.police != nil {
		w.policeRows += w.police.rows
	}
	if err := w.police.close(); err != nil {
		return err
	}
	rel := "sources/police-" + c.Code + ".parquet"
	s, err := newSink[PoliceRow](w.out, rel, "zstd")
	if err != nil {
		return err
	}
	w.police = s
	w.policeAll = append(w.policeAll, rel)
	return nil
}

// abort closes whatever is still open after an error.
func (w *writers) abort() {
	for _, c := range []io.Closer{w.truthTmp, w.plantsF} {
		if c != nil {
			c.Close()
		}
	}
}

// sink is an output file of generated rows.
type sink interface {
	close() error
	// discard closes the file without finishing it and removes it.
	discard(out string)
}

// sinks lists the open output files in a fixed order; fields not opened
// yet (an error in newWriters) are left out.
func (w *writers) sinks() []sink {
	var out []sink
	add := func(s sink, open bool) {
		if open {
			out = append(out, s)
		}
	}
	add(w.roster, w.roster != nil)
	add(w.police, w.police != nil)
	add(w.vehicle, w.vehicle != nil)
	add(w.realestate, w.realestate != nil)
	add(w.pension, w.pension != nil)
	add(w.fund, w.fund != nil)
	add(w.court, w.court != nil)
	add(w.business, w.business != nil)
	add(w.payroll, w.payroll != nil)
	add(w.disability, w.disability != nil)
	add(w.poverty, w.poverty != nil)
	add(w.deposit, w.deposit != nil)
	add(w.staff, w.staff != nil)
	for _, y := range w.medicalYears() {
		out = append(out, w.medical[y])
	}
	return out
}

func (w *writers) medicalYears() []int {
	years := make([]int, 0, len(w.medical))
	for y := range w.medical {
		years = append(years, y)
	}
	slices.Sort(years)
	return years
}

// discard removes everything this generation wrote into the output folder,
// after a failure or an interruption: a region with Parquet files cut
// before their footer, or an older sources.yaml beside newer files, must
// not be taken for a whole one.
func (w *writers) discard() {
	w.abort()
	for _, s := range w.sinks() {
		s.discard(w.out)
	}
	for _, rel := range append(slices.Clip(w.policeAll), "truth.csv.part", "truth.csv", "plants.csv", "sources.yaml", "planted.json") {
		os.Remove(filepath.Join(w.out, rel))
	}
	os.Remove(filepath.Join(w.out, "sources")) // only if empty
}

// adder is a file of rows of one kind.
type adder[T any] interface{ add(T) error }

// emit adds row, about p, to s after the rows with invalid IDs that the
// block plants before it: those are copies of row with only the ID (set by
// setID) changed; row itself gets p's ID, sometimes messy but valid.
func emit[T any](w *writers, s adder[T], k sources.Kind, forced *bool, region string, p *person, row T, setID func(*T, string)) error {
	return emitJunk(w, s, k, forced, region, p, row, setID, setID)
}

// emitJunk is emit where an invalid-ID copy also loses, through junkify,
// what else would identify the person (name, birth date, region).
func emitJunk[T any](w *writers, s adder[T], k sources.Kind, forced *bool, region string, p *person, row T, junkify, setID func(*T, string)) error {
	for _, bad := range w.junk(k, forced, region) {
		j := row
		junkify(&j, bad)
		if err := s.add(j); err != nil {
			return err
		}
	}
	setID(&row, w.rawID(p, dirtyValidRate))
	return s.add(row)
}

// rawID renders the key of a row about p: usually clean, sometimes messy
// but valid.
func (w *writers) rawID(p *person, rate float64) string {
	if w.r.Float64() < rate {
		return dirtyValid(w.r, p.id)
	}
	return p.id
}

// junk says how many invalid-ID rows to emit before the next row of kind k,
// and renders them. The first block gets one of each reason per kind so
// that every reason occurs even at small scale.
func (w *writers) junk(k sources.Kind, forced *bool, region string) []string {
	var out []string
	if !*forced {
		*forced = true
		if w.firstBlock {
			for _, d := range invalidKinds {
				out = append(out, w.invalid(k, d, region))
			}
		}
	}
	if w.r.Float64() < junkRate {
		out = append(out, w.invalid(k, invalidKinds[w.r.IntN(len(invalidKinds))], region))
	}
	return out
}

func (w *writers) invalid(k sources.Kind, d dirtyKind, region string) string {
	dob := time.Date(1940+w.r.IntN(70), time.Month(1+w.r.IntN(12)), 1+w.r.IntN(28), 0, 0, 0, 0, time.UTC)
	m := w.sum.Dirty[k]
	if m == nil {
		m = map[string]int64{}
		w.sum.Dirty[k] = m
	}
	m[d.reasonWord()]++
	return invalidID(w.r, d, region, dob)
}

func ymd(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(layout)
}

// block writes every row of a block and its truth rows.
func (w *writers) block(seed int64, b *block, flags []flag) error {
	w.r = rand.New(rand.NewPCG(uint64(seed), uint64(b.index)<<1|1))
	region := b.county.Code
	var err error
	check := func(e error) {
		if err == nil {
			err = e
		}
	}
	// Roster.
	for _, h := range b.households {
		for _, m := range h.members {
			r := RosterRow{
				HouseholdID: h.id, PersonID: w.rawID(m.p, rosterDirty), Name: m.p.name, Relation: m.relation,
				RegionCode: h.region, Area: h.area, Assistance: h.assistance, MonthlyBenefit: h.benefit,
				Since: days(h.since), Status: h.status, ApplicationDate: days(h.appDate),
				AuthorizationRef: h.auth, RelativeFiled: m.filed,
			}
			w.sum.RosterMembers++
			check(w.roster.add(r))
		}
		w.sum.Households++
	}
	w.sum.Residents += len(b.people)
	var forced [13]bool
	// Police: everyone.
	for _, p := range b.people {
		row := PoliceRow{
			Name: p.pname, Gender: genderCodes.raw(gender(p)), BirthDate: days(p.dob), HukouNo: p.hukou,
			RelationToHead: p.rel, Status: p.pstatus, StatusDate: days(p.pdate), RegionCode: p.region,
		}
		check(emitJunk(w, w.police, sources.KindPolice, &forced[0], region, p, row, func(r *PoliceRow, id string) {
			r.PersonID, r.Name, r.BirthDate, r.RegionCode = id, "", nil, ""
			r.HukouNo, r.RelationToHead, r.Status, r.StatusDate = "000000000000000", "other", "normal", nil
		}, func(r *PoliceRow, id string) { r.PersonID = id }))
	}
	// Vehicles, then the rows whose owner ID is invalid but name and birth
	// date identify a roster member.
	for _, p := range b.people {
		for _, v := range p.r.vehicle {
			row := w.VehicleRow(v, p)
			check(emitJunk(w, w.vehicle, sources.KindVehicle, &forced[1], region, p, row,
				func(r *VehicleRow, id string) { r.OwnerID, r.Name, r.BirthDate, r.RegionCode = id, "", "", "" },
				func(r *VehicleRow, id string) { r.OwnerID = id }))
		}
	}
	for _, nd := range b.nd {
		row := w.VehicleRow(nd.v, nd.p)
		row.OwnerID = nd.raw
		m := w.sum.Dirty[sources.KindVehicle]
		if m == nil {
			m = map[string]int64{}
			w.sum.Dirty[sources.KindVehicle] = m
		}
		m[nd.bad.reasonWord()]++
		check(w.vehicle.add(row))
	}
	for _, p := range b.people {
		for _, r := range p.r.realestate {
			share := ""
			if r.Share != 0 {
				share = strconv.FormatFloat(r.Share, 'f', -1, 64)
			}
			row := []string{"", p.name, r.CertNo, realestateUsage.raw(r.Usage), strconv.FormatFloat(r.AreaM2, 'f', 2, 64),
				share, ymd(r.RegisterDate, "2006/01/02"), realestateStatus.raw(r.Status)}
			for _, bad := range w.junk(sources.KindRealEstate, &forced[2], region) {
				j := slices.Clone(row)
				j[0], j[1] = bad, ""
				check(w.realestate.add(j))
			}
			row[0] = w.rawID(p, dirtyValidRate)
			check(w.realestate.add(row))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.pension {
			row := PensionRow{Scheme: pensionScheme.raw(r.Scheme), State: pensionState.raw(r.State),
				MonthlyAmount: money(r.MonthlyAmount), ContributionBase: money(r.ContributionBase), Period: ymd(r.Period, "200601")}
			check(emit(w, w.pension, sources.KindPension, &forced[3], region, p, row, func(r *PensionRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.fund {
			row := FundRow{Employer: r.Employer, MonthlyDeposit: r.MonthlyDeposit, DepositBase: r.DepositBase,
				AccountStatus: fundStatus.raw(r.AccountStatus), LastDepositMonth: ymd(r.LastDepositMonth, "200601")}
			check(emit(w, w.fund, sources.KindFund, &forced[4], region, p, row, func(r *FundRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.court {
			raw := courtCaseType.raw(r.CaseType)
			if r.CaseType == "support" && w.r.IntN(2) == 0 {
				raw = "赡养纠纷"
			}
			row := CourtRow{CaseNo: r.CaseNo, CaseType: raw, EffectiveDate: ymd(r.EffectiveDate, "2006/01/02"), Role: r.Role}
			check(emit(w, w.court, sources.KindCourt, &forced[5], region, p, row, func(r *CourtRow, id string) { r.PartyID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.business {
			row := BusinessRow{USCC: r.USCC, EntityName: r.EntityName, Role: businessRole.raw(r.Role),
				SubscribedCapital: r.SubscribedCapital / 10000, Status: businessStatus.raw(r.Status), Established: days(r.Established)}
			check(emit(w, w.business, sources.KindBusiness, &forced[6], region, p, row, func(r *BusinessRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.payroll {
			row := PayrollRow{Employer: r.Employer, MonthlySalary: money(r.MonthlySalary), Status: r.Status}
			check(emit(w, w.payroll, sources.KindPayroll, &forced[7], region, p, row, func(r *PayrollRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.medical {
			row := MedicalRow{SettleDate: days(r.SettleDate), TotalCost: fen(r.TotalCost), SelfPaid: fen(r.SelfPaid)}
			s, e := w.medicalSink(r.SettleDate.Year())
			if e != nil {
				return e
			}
			check(emit(w, s, sources.KindMedical, &forced[8], region, p, row, func(r *MedicalRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.disability {
			row := DisabilityRow{Name: p.name, Category: disabilityCat.raw(r.Category), Grade: int32(r.Grade)}
			check(emitJunk(w, w.disability, sources.KindDisability, &forced[9], region, p, row,
				func(r *DisabilityRow, id string) { r.PersonID, r.Name = id, "" }, func(r *DisabilityRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.poverty {
			row := PovertyRow{Status: povertyStatus.raw(r.Status), HouseholdNo: r.HouseholdNo}
			check(emit(w, w.poverty, sources.KindPoverty, &forced[10], region, p, row, func(r *PovertyRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.deposit {
			row := DepositRow{Balance: r.Balance, AsOf: days(r.AsOf)}
			check(emit(w, w.deposit, sources.KindDeposit, &forced[11], region, p, row, func(r *DepositRow, id string) { r.PersonID = id }))
		}
	}
	for _, p := range b.people {
		for _, r := range p.r.staff {
			row := StaffRow{Name: p.name, Role: r.Role}
			check(emitJunk(w, w.staff, sources.KindStaff, &forced[12], region, p, row,
				func(r *StaffRow, id string) { r.PersonID, r.Name = id, "" }, func(r *StaffRow, id string) { r.PersonID = id }))
		}
	}
	w.firstBlock = false
	for _, f := range flags {
		w.truth.WriteString(f.household + "," + f.person + "," + f.rule + "," + f.outcome + "\n")
	}
	for _, l := range b.labels {
		w.plantsW.WriteString(l.household + "," + l.person + "," + l.label + "\n")
	}
	return err
}

func gender(p *person) string {
	if p.male {
		return "male"
	}
	return "female"
}

func (w *writers) VehicleRow(v sources.Vehicle, p *person) VehicleRow {
	dis := "否"
	if v.Disabled {
		dis = "是"
	}
	return VehicleRow{
		Name: p.name, BirthDate: ymd(p.dob, "20060102"), RegionCode: p.region, PlateNo: v.PlateNo,
		VehicleType: v.VehicleType, UseNature: v.UseNature, RegisterDate: ymd(v.RegisterDate, "20060102"),
		Status: vehicleStatus.raw(v.Status), Price: fen(v.Price), Disabled: dis,
	}
}

func (w *writers) medicalSink(year int) (*pqSink[MedicalRow], error) {
	if s := w.medical[year]; s != nil {
		return s, nil
	}
	s, err := newSink[MedicalRow](w.out, fmt.Sprintf("sources/medical-%d.parquet", year), "zstd")
	if err != nil {
		return nil, err
	}
	w.medical[year] = s
	return s, nil
}

// finish closes every file, assembles truth.csv (candidates first: their
// household_id is empty) and writes the manifest.
func (w *writers) finish(cands []flag) error {
	for _, s := range w.sinks() {
		if err := s.close(); err != nil {
			return err
		}
	}
	years := w.medicalYears()
	w.sum.Rows[sources.KindRoster] = w.roster.rows
	w.sum.Rows[sources.KindPolice] = w.policeRows + w.police.rows
	w.sum.Rows[sources.KindRealEstate] = w.realestate.rows
	w.sum.Rows[sources.KindVehicle] = w.vehicle.rows
	w.sum.Rows[sources.KindPension] = w.pension.rows
	w.sum.Rows[sources.KindFund] = w.fund.rows
	w.sum.Rows[sources.KindCourt] = w.court.rows
	w.sum.Rows[sources.KindBusiness] = w.business.rows
	w.sum.Rows[sources.KindPayroll] = w.payroll.rows
	w.sum.Rows[sources.KindDisability] = w.disability.rows
	w.sum.Rows[sources.KindPoverty] = w.poverty.rows
	w.sum.Rows[sources.KindDeposit] = w.deposit.rows
	w.sum.Rows[sources.KindStaff] = w.staff.rows
	for _, y := range years {
		w.sum.Rows[sources.KindMedical] += w.medical[y].rows
	}
	if err := w.plantsW.Flush(); err != nil {
		return err
	}
	if err := w.plantsF.Close(); err != nil {
		return err
	}
	w.plantsF = nil
	if err := w.truth.Flush(); err != nil {
		return err
	}
	if err := w.assembleTruth(cands); err != nil {
		return err
	}
	return w.manifest()
}

func (w *writers) assembleTruth(cands []flag) error {
	path := filepath.Join(w.out, "truth.csv")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<16)
	bw.WriteString("household_id,person_id,rule_id,outcome\n")
	for _, c := range cands {
		bw.WriteString("," + c.person + "," + c.rule + "," + c.outcome + "\n")
	}
	if _, err := w.truthTmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(bw, w.truthTmp); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	w.truthTmp.Close()
	os.Remove(w.truthTmp.Name())
	w.truthTmp = nil
	return f.Close()
}

// files lists the written files relative to the output folder, sorted.
func (w *writers) files() []string {
	out := []string{"sources.yaml", "roster.parquet", "truth.csv", "plants.csv", w.vehicle.rel, w.realestate.rel,
		w.pension.rel, w.fund.rel, w.court.rel, w.business.rel, w.payroll.rel, w.disability.rel, w.poverty.rel,
		w.deposit.rel, w.staff.rel}
	out = append(out, w.policeAll...)
	for _, s := range w.medical {
		out = append(out, s.rel)
	}
	slices.Sort(out)
	return out
}

// snapshotAge gives each source's snapshot date as days before as_of: all
// fresh (within 60 days).
var snapshotAge = map[sources.Kind]int{
	sources.KindPolice: 7, sources.KindVehicle: 4, sources.KindRealEstate: 12, sources.KindPension: 17,
	sources.KindFund: 1, sources.KindCourt: 2, sources.KindBusiness: 6, sources.KindPayroll: 12,
	sources.KindMedical: 1, sources.KindDisability: 32, sources.KindPoverty: 22, sources.KindDeposit: 1,
	sources.KindStaff: 31,
}

func yamlValues(col string, c codes) string {
	parts := make([]string, len(c))
	for i, kv := range c {
		parts[i] = strconv.Quote(kv[0]) + ": " + kv[1]
	}
	return col + ": {" + strings.Join(parts, ", ") + "}"
}

// manifest writes sources.yaml.
func (w *writers) manifest() error {
	var b strings.Builder
	snap := func(k sources.Kind) string { return w.asOf.AddDate(0, 0, -snapshotAge[k]).Format("2006-01-02") }
	fmt.Fprintf(&b, "# hedui synthetic region: generated by `hedui gen`; do not edit.\n")
	fmt.Fprintf(&b, "as_of: %s\nroster: roster.parquet\nsources:\n", w.asOf.Format("2006-01-02"))
	entry := func(k sources.Kind, path string, lines ...string) {
		fmt.Fprintf(&b, "  - kind: %s\n    path: %s\n    snapshot: %s\n", k, path, snap(k))
		for _, l := range lines {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	entry(sources.KindPolice, "sources/police-*.parquet",
		"values: {"+yamlValues("gender", genderCodes)+"}")
	entry(sources.KindVehicle, "sources/vehicle.parquet",
		"columns: {owner_id: 身份证号码, name: 姓名, birth_date: 出生日期, region_code: 行政区划, plate_no: 号牌号码, vehicle_type: 车辆类型, use_nature: 使用性质, register_date: 登记日期, status: 机动车状态, price: 价格, disabled: 残疾人专用车}",
		`formats: {register_date: "%Y%m%d", birth_date: "%Y%m%d"}`,
		"units: {price: fen}",
		"values: {"+yamlValues("status", vehicleStatus)+"}")
	entry(sources.KindRealEstate, "sources/realestate.csv",
		"columns: {owner_id: 权利人证件号码, name: 权利人, cert_no: 不动产权证号, usage: 用途, area_m2: 建筑面积, share: 权利份额, register_date: 登记时间, status: 权属状态}",
		`formats: {register_date: "%Y/%m/%d"}`,
		"values: {"+yamlValues("usage", realestateUsage)+", "+yamlValues("status", realestateStatus)+"}",
		"encoding: gb18030")
	entry(sources.KindPension, "sources/pension.parquet",
		"units: {monthly_amount: yuan, contribution_base: yuan}",
		"values: {"+yamlValues("scheme", pensionScheme)+", "+yamlValues("state", pensionState)+"}")
	entry(sources.KindFund, "sources/fund.parquet",
		"values: {"+yamlValues("account_status", fundStatus)+"}")
	entry(sources.KindCourt, "sources/court.parquet",
		"columns: {party_id: 当事人证件号码, case_no: 案号, case_type: 案由, effective_date: 生效日期, role: 诉讼地位}",
		`formats: {effective_date: "%Y/%m/%d"}`,
		"values: {"+yamlValues("case_type", courtCaseType)+"}")
	entry(sources.KindBusiness, "sources/business.parquet",
		"columns: {person_id: 证件号码, uscc: 统一社会信用代码, entity_name: 企业名称, role: 人员类型, subscribed_capital: 认缴出资额, status: 登记状态, established: 成立日期}",
		"units: {subscribed_capital: wan}",
		"values: {"+yamlValues("role", businessRole)+", "+yamlValues("status", businessStatus)+"}")
	entry(sources.KindPayroll, "sources/payroll.parquet")
	entry(sources.KindMedical, "sources/medical-*.parquet", "units: {total_cost: fen, self_paid: fen}")
	entry(sources.KindDisability, "sources/disability.parquet",
		"values: {"+yamlValues("category", disabilityCat)+"}")
	entry(sources.KindPoverty, "sources/poverty.parquet",
		"values: {"+yamlValues("status", povertyStatus)+"}")
	entry(sources.KindDeposit, "sources/deposit.parquet")
	entry(sources.KindStaff, "sources/staff.parquet")
	return os.WriteFile(filepath.Join(w.out, "sources.yaml"), []byte(b.String()), 0o644)
}
