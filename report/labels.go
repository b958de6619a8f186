package report

import (
	"github.com/hedui/hedui/report/svg"
	"github.com/hedui/hedui/rules"
	"github.com/hedui/hedui/sources"
)

// outcomeInfo is how an outcome is shown.
type outcomeInfo struct {
	Key, Label, Color string
}

// outcomes lists the outcomes in the order reports show them: the ones
// that ask most of staff first.
var outcomes = []outcomeInfo{
	{string(rules.OutcomeIneligible), "不符合条件", "#c0392b"},
	{string(rules.OutcomeAdjust), "需调整", "#d68910"},
	{string(rules.OutcomeReview), "需核实", "#2e86c1"},
	{string(rules.OutcomeOmission), "疑似漏保", "#8e44ad"},
	{string(rules.OutcomeInfo), "提示", "#16a085"},
	{string(rules.OutcomeInsufficient), "数据不足", "#7f8c8d"},
}

// OutcomeLabel returns the Chinese name of an outcome, or the outcome itself.
func OutcomeLabel(o string) string {
	for _, x := range outcomes {
		if x.Key == o {
			return x.Label
		}
	}
	return o
}

// outcomeSeries returns the chart series of the known outcomes plus any
// other outcome found in seen, in a fixed order.
func outcomeSeries(seen map[string]bool) []svg.Series {
	var out []svg.Series
	known := map[string]bool{}
	for _, o := range outcomes {
		known[o.Key] = true
		out = append(out, svg.Series{Key: o.Key, Label: o.Label, Color: o.Color})
	}
	for _, o := range sortedKeys(seen) {
		if !known[o] {
			out = append(out, svg.Series{Key: o, Label: o, Color: "#555"})
		}
	}
	return out
}

var kindLabels = map[sources.Kind]string{
	sources.KindRoster: "救助对象名册", sources.KindPolice: "户籍（公安）", sources.KindVehicle: "机动车（公安交管）",
	sources.KindRealEstate: "不动产登记", sources.KindPension: "养老保险（人社）", sources.KindFund: "住房公积金",
	sources.KindCourt: "法院判决", sources.KindBusiness: "市场主体登记", sources.KindPayroll: "财政供养人员",
	sources.KindMedical: "医疗费用（医保）", sources.KindDisability: "残疾人证（残联）", sources.KindPoverty: "防返贫监测（乡村振兴）",
	sources.KindDeposit: "银行存款", sources.KindStaff: "经办人员及村（居）委会成员",
}

// KindLabel returns the Chinese name of a source kind, or the kind itself.
func KindLabel(k sources.Kind) string {
	if l, ok := kindLabels[k]; ok {
		return l
	}
	return string(k)
}

var words = map[string]string{
	"dibao": "低保", "tekun": "特困供养", "edge": "低保边缘", "recipient": "在保", "applicant": "申请",
	"urban": "城市", "rural": "农村", "head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "other": "其他",
	"id": "身份证号", "name_dob": "姓名+出生日期",
}

// word translates the enum values reports show; others pass unchanged.
func word(s string) string {
	if w, ok := words[s]; ok {
		return w
	}
	return s
}

// extraTitles names the rules the engine itself raises.
var extraTitles = map[string]string{"roster.invalid_id": "成员身份证号码无效"}
