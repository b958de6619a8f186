package sources

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hedui/hedui/sources/personid"
)

// rawCell is one column of a kind test: canonical name, raw (Chinese) name
// and the raw text written.
type rawCell struct{ canon, raw, val string }

type kindCase struct {
	kind    Kind
	cells   []rawCell
	formats map[string]string
	units   map[string]string
	values  map[string]map[string]string
	want    Record // Origin's provenance fields are filled by the test
}

func kindCases(t *testing.T) []kindCase {
	id := testID(t, 1)
	k, _ := personid.Parse(id), 0
	old15, ok := k.Key.Old15()
	if !ok {
		t.Fatal("test ID has no 15-digit form")
	}
	o := Origin{Key: k.Key, PersonID: id}
	return []kindCase{
		{kind: KindRoster, cells: []rawCell{
			{"person_id", "身份证号", id}, {"household_id", "户编号", "H0001"}, {"relation", "与户主关系", "户主"},
			{"area", "城乡", "城市"}, {"assistance", "救助类型", "低保"}, {"monthly_benefit", "月保障金", "65000"},
			{"since", "享受日期", "20200601"}, {"status", "状态", "在保"}, {"application_date", "申请日期", "2020/05/01"},
			{"authorization_ref", "授权书编号", "SQ-2020-1"}, {"relative_filed", "近亲属备案", "是"},
			{"name", "姓名", "张三"}, {"region_code", "区划", "530102"},
		},
			formats: map[string]string{"since": "%Y%m%d", "application_date": "%Y/%m/%d"},
			units:   map[string]string{"monthly_benefit": "fen"},
			values: map[string]map[string]string{"relation": {"户主": "head"}, "area": {"城市": "urban"},
				"assistance": {"低保": "dibao"}, "status": {"在保": "recipient"}},
			want: &RosterMember{Origin: withOrigin(o, "张三", "530102"), HouseholdID: "H0001", Relation: "head", Area: "urban",
				Assistance: "dibao", MonthlyBenefit: 650, Since: day("2020-06-01"), Status: "recipient",
				ApplicationDate: day("2020-05-01"), AuthorizationRef: "SQ-2020-1", RelativeFiled: true}},
		{kind: KindPolice, cells: []rawCell{
			{"person_id", "公民身份号码", old15}, {"name", "姓名", "李四"}, {"gender", "性别", "男"},
			{"birth_date", "出生日期", "19810202"}, {"hukou_no", "户号", "530102000123"}, {"relation_to_head", "与户主关系", "配偶"},
			{"status", "人口状态", "死亡"}, {"status_date", "注销日期", "2025-03-04"}, {"region_code", "住址区划", "530102"},
		},
			formats: map[string]string{"birth_date": "%Y%m%d"},
			values: map[string]map[string]string{"gender": {"男": "male", "女": "female"}, "relation_to_head": {"配偶": "spouse"},
				"status": {"死亡": "deceased"}},
			want: &Police{Origin: func() Origin { x := withOrigin(o, "李四", "530102"); x.BirthDate = day("1981-02-02"); return x }(),
				Gender: "male", HukouNo: "530102000123", RelationToHead: "spouse", Status: "deceased", StatusDate: day("2025-03-04")}},
		{kind: KindVehicle, cells: []rawCell{
			{"owner_id", "所有人证件号码", id}, {"plate_no", "号牌号码", "云A12345"}, {"vehicle_type", "车辆类型", "K33"},
			{"use_nature", "使用性质", "A"}, {"register_date", "初次登记日期", "2019/07/15"}, {"status", "机动车状态", "A"},
			{"price", "购置价格", "12.5"}, {"disabled", "残疾人专用", "否"},
		},
			formats: map[string]string{"register_date": "%Y/%m/%d"}, units: map[string]string{"price": "wan"},
			values: map[string]map[string]string{"status": {"A": "normal", "E": "scrapped"}},
			want: &Vehicle{Origin: o, PlateNo: "云A12345", VehicleType: "K33", UseNature: "A", RegisterDate: day("2019-07-15"),
				Status: "normal", Price: 125000}},
		{kind: KindRealEstate, cells: []rawCell{
			{"owner_id", "权利人证件号", id}, {"cert_no", "不动产权证号", "云(2020)昆明市不动产权第001号"}, {"usage", "用途", "住宅"},
			{"area_m2", "建筑面积", "89.5"}, {"share", "份额", "0.5"}, {"register_date", "登簿日期", "2020-01-02"},
			{"status", "状态", "现势"},
		},
			values: map[string]map[string]string{"usage": {"住宅": "residential"}, "status": {"现势": "normal"}},
			want: &RealEstate{Origin: o, CertNo: "云(2020)昆明市不动产权第001号", Usage: "residential", AreaM2: 89.5, Share: 0.5,
				RegisterDate: day("2020-01-02"), Status: "normal"}},
		{kind: KindPension, cells: []rawCell{
			{"person_id", "身份证号码", id}, {"scheme", "险种", "城乡居民"}, {"state", "参保状态", "领取"},
			{"monthly_amount", "月养老金", "15000"}, {"contribution_base", "缴费基数", "3,500.00"}, {"period", "待遇期", "202609"},
		},
			units:  map[string]string{"monthly_amount": "fen"},
			values: map[string]map[string]string{"scheme": {"城乡居民": "resident"}, "state": {"领取": "receiving"}},
			want: &Pension{Origin: o, Scheme: "resident", State: "receiving", MonthlyAmount: 150, ContributionBase: 3500,
				Period: day("2026-09-01")}},
		{kind: KindFund, cells: []rawCell{
			{"person_id", "证件号码", id}, {"employer", "单位名称", "昆明市某公司"}, {"monthly_deposit", "月缴存额", "1200"},
			{"deposit_base", "缴存基数", "5000"}, {"account_status", "账户状态", "正常"}, {"last_deposit_month", "末次缴存年月", "2026-08"},
		},
			formats: map[string]string{"last_deposit_month": "%Y-%m"},
			values:  map[string]map[string]string{"account_status": {"正常": "active", "封存": "sealed"}},
			want: &Fund{Origin: o, Employer: "昆明市某公司", MonthlyDeposit: 1200, DepositBase: 5000, AccountStatus: "active",
				LastDepositMonth: day("2026-08-01")}},
		{kind: KindCourt, cells: []rawCell{
			{"party_id", "当事人证件号", id}, {"case_no", "案号", "(2025)云0102民初123号"}, {"case_type", "案由", "离婚纠纷"},
			{"effective_date", "生效日期", "2025.06.01"}, {"role", "诉讼地位", "原告"},
		},
			formats: map[string]string{"effective_date": "%Y.%m.%d"},
			values:  map[string]map[string]string{"case_type": {"离婚纠纷": "divorce"}},
			want:    &Court{Origin: o, CaseNo: "(2025)云0102民初123号", CaseType: "divorce", EffectiveDate: day("2025-06-01"), Role: "原告"}},
		{kind: KindBusiness, cells: []rawCell{
			{"person_id", "证件号码", id}, {"uscc", "统一社会信用代码", "91530100MA6K000000"}, {"entity_name", "企业名称", "某某商贸有限公司"},
			{"role", "人员类型", "法定代表人"}, {"subscribed_capital", "认缴出资额", "50"}, {"status", "登记状态", "存续"},
			{"established", "成立日期", "2018-05-20"},
		},
			units:  map[string]string{"subscribed_capital": "wan"},
			values: map[string]map[string]string{"role": {"法定代表人": "legal_rep"}, "status": {"存续": "active"}},
			want: &Business{Origin: o, USCC: "91530100MA6K000000", EntityName: "某某商贸有限公司", Role: "legal_rep",
				SubscribedCapital: 500000, Status: "active", Established: day("2018-05-20")}},
		{kind: KindPayroll, cells: []rawCell{
			{"person_id", "身份证号", id}, {"employer", "单位", "某局"}, {"monthly_salary", "月工资", "4800.50"}, {"status", "在职状态", "在职"},
		},
			values: map[string]map[string]string{"status": {"在职": "active"}},
			want:   &Payroll{Origin: o, Employer: "某局", MonthlySalary: 4800.5, Status: "active"}},
		{kind: KindMedical, cells: []rawCell{
			{"person_id", "身份证号", id}, {"settle_date", "结算日期", "2026-03-05"}, {"total_cost", "总费用", "1234567"},
			{"self_paid", "个人自付", "23456"},
		},
			units: map[string]string{"total_cost": "fen", "self_paid": "fen"},
			want:  &Medical{Origin: o, SettleDate: day("2026-03-05"), TotalCost: 12345.67, SelfPaid: 234.56}},
		{kind: KindDisability, cells: []rawCell{
			{"person_id", "身份证号", id}, {"category", "残疾类别", "肢体"}, {"grade", "残疾等级", "二级"},
		},
			values: map[string]map[string]string{"category": {"肢体": "physical"}, "grade": {"一级": "1", "二级": "2"}},
			want:   &Disability{Origin: o, Category: "physical", Grade: 2}},
		{kind: KindPoverty, cells: []rawCell{
			{"person_id", "身份证号", id}, {"status", "监测状态", "风险未消除"}, {"household_no", "户编号", "P-77"},
		},
			values: map[string]map[string]string{"status": {"风险未消除": "monitored", "风险已消除": "stable"}},
			want:   &Poverty{Origin: o, Status: "monitored", HouseholdNo: "P-77"}},
		{kind: KindDeposit, cells: []rawCell{
			{"person_id", "身份证号", id}, {"balance", "余额", "12,345.67"}, {"as_of", "余额日期", "2026-09-30"},
		},
			want: &Deposit{Origin: o, Balance: 12345.67, AsOf: day("2026-09-30")}},
		{kind: KindStaff, cells: []rawCell{
			{"person_id", "身份证号", id}, {"role", "岗位", "村委会"},
		},
			values: map[string]map[string]string{"role": {"村委会": "village-committee"}},
			want:   &Staff{Origin: o, Role: "village-committee"}},
	}
}

func withOrigin(o Origin, name, region string) Origin {
	o.Name, o.Region = name, region
	return o
}

// TestKindsAllFormats reads one row of each of the 14 kinds, with raw Chinese
// column names and the manifest's formats, units and values mappings, from
// all-string Parquet (plain and dictionary-encoded) and from CSV in UTF-8
// (with a byte-order mark) and GB18030.
func TestKindsAllFormats(t *testing.T) {
	variants := []struct {
		name, ext string
		write     func(t *testing.T, path string, header []string, rows [][]string)
		encoding  string
	}{
		{"parquet-plain", ".parquet", func(t *testing.T, p string, h []string, r [][]string) { writePQ(t, p, strCols(h, r, false)) }, ""},
		{"parquet-dict", ".parquet", func(t *testing.T, p string, h []string, r [][]string) { writePQ(t, p, strCols(h, r, true)) }, ""},
		{"csv-utf8", ".csv", func(t *testing.T, p string, h []string, r [][]string) { writeCSV(t, p, h, r, false) }, "utf-8"},
		{"csv-gb18030", ".CSV", func(t *testing.T, p string, h []string, r [][]string) { writeCSV(t, p, h, r, true) }, "gb18030"},
	}
	for _, tc := range kindCases(t) {
		for _, v := range variants {
			t.Run(string(tc.kind)+"/"+v.name, func(t *testing.T) {
				var header []string
				var row []string
				cols := map[string]string{}
				for _, c := range tc.cells {
					header, row = append(header, c.raw), append(row, c.val)
					cols[c.canon] = c.raw
				}
				// Two rows: the second repeats the first, padded with spaces,
				// which trimming removes.
				padded := make([]string, len(row))
				for i, s := range row {
					padded[i] = " " + s + " "
				}
				path := filepath.Join(t.TempDir(), "export"+v.ext)
				v.write(t, path, header, [][]string{row, padded})
				m, e := testEntry(tc.kind, path)
				e.Columns, e.Formats, e.Units, e.Values, e.Encoding = cols, tc.formats, tc.units, tc.values, v.encoding
				r := mustOpen(t, m, e)
				recs := decodeAll(t, r)
				if len(recs) != 2 {
					t.Fatalf("%d records, want 2", len(recs))
				}
				for i, got := range recs {
					want := reflect.New(reflect.TypeOf(tc.want).Elem())
					want.Elem().Set(reflect.ValueOf(tc.want).Elem())
					wo := want.Interface().(Record).Base()
					wo.Kind, wo.File, wo.Row, wo.Snapshot = tc.kind, filepath.Base(path), int64(i+1), testSnapshot
					if !reflect.DeepEqual(got, want.Interface()) {
						t.Errorf("row %d:\n got %+v\nwant %+v", i+1, got, want.Interface())
					}
				}
			})
		}
	}
}
