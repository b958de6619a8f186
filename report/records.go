package report

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hedui/hedui/facts"
	"github.com/hedui/hedui/sources"
)

var recordWords = map[string]string{
	"normal": "正常", "deceased": "死亡", "cancelled": "注销", "moved": "迁出", "scrapped": "报废", "deregistered": "注销",
	"transferred": "已转移", "seized": "查封", "sealed": "查封", "residential": "住宅", "commercial": "商业", "office": "办公",
	"industrial": "工业", "parking": "车位", "employee": "职工养老", "resident": "城乡居民养老", "civil-service": "机关事业养老",
	"paying": "缴费中", "receiving": "领取中", "suspended": "暂停", "active": "正常", "closed": "销户", "divorce": "离婚",
	"support": "抚养/赡养", "legal_rep": "法定代表人", "shareholder": "股东", "sole_trader": "个体经营者", "revoked": "吊销",
	"left": "离职", "retired": "退休", "physical": "肢体", "visual": "视力", "hearing": "听力", "speech": "言语",
	"intellectual": "智力", "mental": "精神", "multiple": "多重", "monitored": "监测中", "stable": "已消除风险", "exited": "退出",
	"civil-affairs": "民政经办人员", "male": "男", "female": "女", "village-committee": "村（居）委会成员", "handler": "经办人员",
}

func rw(s string) string {
	if w, ok := recordWords[s]; ok {
		return w
	}
	if s == "" {
		return "—"
	}
	return s
}

func yuan(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " 元" }

func date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format(time.DateOnly)
}

// describe lists, one line per record, what source kind k holds about m.
func describe(k sources.Kind, m *facts.Member) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	switch k {
	case sources.KindPolice:
		for _, r := range m.Police {
			if r.Status == "normal" {
				add("户籍状态正常，与户主关系：%s", word(r.RelationToHead))
			} else {
				add("户籍状态：%s（%s）", rw(r.Status), date(r.StatusDate))
			}
		}
	case sources.KindVehicle:
		for _, r := range m.Vehicles {
			add("机动车 %s，车型 %s，价格 %s，状态 %s", r.PlateNo, r.VehicleType, yuan(r.Price), rw(r.Status))
		}
	case sources.KindRealEstate:
		for _, r := range m.RealEstate {
			add("%s，%s %.2f 平方米，份额 %s，状态 %s", r.CertNo, rw(r.Usage), r.AreaM2, share(r.Share), rw(r.Status))
		}
	case sources.KindPension:
		for _, r := range m.Pension {
			add("%s，%s，月领取 %s", rw(r.Scheme), rw(r.State), yuan(r.MonthlyAmount))
		}
	case sources.KindFund:
		for _, r := range m.Fund {
			add("%s，账户%s，月缴存 %s", r.Employer, rw(r.AccountStatus), yuan(r.MonthlyDeposit))
		}
	case sources.KindCourt:
		for _, r := range m.Court {
			add("%s，%s，%s 生效", r.CaseNo, rw(r.CaseType), date(r.EffectiveDate))
		}
	case sources.KindBusiness:
		for _, r := range m.Business {
			add("%s，%s，注册资本 %s，%s", r.EntityName, rw(r.Role), yuan(r.SubscribedCapital), rw(r.Status))
		}
	case sources.KindPayroll:
		for _, r := range m.Payroll {
			add("%s，月工资 %s，%s", r.Employer, yuan(r.MonthlySalary), rw(r.Status))
		}
	case sources.KindMedical:
		var self float64
		for _, r := range m.Medical {
			self += r.SelfPaid
		}
		if len(m.Medical) > 0 {
			add("医疗结算 %d 笔，个人自付合计 %s", len(m.Medical), yuan(self))
		}
	case sources.KindDisability:
		for _, r := range m.Disability {
			add("%s残疾 %d 级", rw(r.Category), r.Grade)
		}
	case sources.KindPoverty:
		for _, r := range m.Poverty {
			add("防返贫监测对象，%s", rw(r.Status))
		}
	case sources.KindDeposit:
		var bal float64
		for _, r := range m.Deposit {
			bal += r.Balance
		}
		if len(m.Deposit) > 0 {
			add("存款 %d 笔，余额合计 %s", len(m.Deposit), yuan(bal))
		}
	case sources.KindStaff:
		for _, r := range m.Staff {
			add("%s", rw(r.Role))
		}
	}
	return out
}

func share(s float64) string {
	if s == 0 {
		return "全部"
	}
	return strconv.FormatFloat(s*100, 'f', -1, 64) + "%"
}

// columnLabels names the canonical columns evidence quotes.
var columnLabels = map[string]string{
	"name": "姓名", "birth_date": "出生日期", "region_code": "区划", "person_id": "身份证号", "gender": "性别",
	"hukou_no": "户号", "relation_to_head": "与户主关系", "status": "状态", "status_date": "状态日期",
	"plate_no": "号牌", "vehicle_type": "车型", "use_nature": "使用性质", "register_date": "登记日期", "price": "价格",
	"disabled": "残疾人专用", "cert_no": "不动产权证号", "usage": "用途", "area_m2": "面积（平方米）", "share": "份额",
	"scheme": "险种", "state": "状态", "monthly_amount": "月领取额", "contribution_base": "缴费基数", "period": "所属期",
	"employer": "单位", "monthly_deposit": "月缴存额", "deposit_base": "缴存基数", "account_status": "账户状态",
	"last_deposit_month": "最近缴存月", "case_no": "案号", "case_type": "案件类型", "effective_date": "生效日期",
	"role": "身份", "uscc": "统一社会信用代码", "entity_name": "名称", "subscribed_capital": "注册资本",
	"established": "成立日期", "monthly_salary": "月工资", "settle_date": "结算日期", "total_cost": "总费用",
	"self_paid": "个人自付", "category": "类别", "grade": "等级", "household_no": "户号", "balance": "余额",
	"as_of": "截至", "household_id": "家庭编号", "relation": "与户主关系", "area": "城乡", "assistance": "救助类别",
	"monthly_benefit": "月救助金", "since": "起始日期", "application_date": "申请日期", "relative_filed": "近亲属已备案",
	"authorization_ref": "授权编号",
}

func columnLabel(k string) string {
	if l, ok := columnLabels[k]; ok {
		return l
	}
	return k
}
