package report

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hedui/hedui/sources/personid"
)

func TestMaskIDs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"530102199410245557", "530102********5557"},
		{"成员530102199410245557已死亡", "成员530102********5557已死亡"},
		{"53010219410312033X,", "530102********033X,"},
		{"a530102199410245557", "a530102199410245557"}, // part of a longer token
		{"530102199410245558", "530102********5558"},   // wrong check character: still personal
		{"925301020000000011", "925301020000000011"},   // business registration number
		{"53010200000276", "53010200000276"},           // household ID
		{"530102941024555", "530102*****4555"},         // old 15-digit number
		{"", ""},
	} {
		if got := maskIDs(c.in); got != c.want {
			t.Errorf("maskIDs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMaskNamesAndText(t *testing.T) {
	m := masker{}
	for _, c := range []struct{ in, want string }{
		{"张华", "张*"}, {"欧阳小明", "欧***"}, {"李", "*"}, {"", ""},
	} {
		if got := m.name(c.in); got != c.want {
			t.Errorf("name(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got := m.text("名册姓名“林琴”与户籍姓名“林荷”不一致", []string{"林琴", "林荷", "林"})
	if got != "名册姓名“林*”与户籍姓名“林*”不一致" {
		t.Errorf("text = %q", got)
	}
	if open := (masker{unmasked: true}); open.text("530102199410245557 林琴", []string{"林琴"}) != "530102199410245557 林琴" {
		t.Error("unmasked text changed")
	}
}

func FuzzMaskIDs(f *testing.F) {
	for _, s := range []string{"530102199410245557", "x53010219410312033X y", "１２３", "\xff530102199410245557"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := maskIDs(s)
		if ids := validIDs(got); len(ids) > 0 {
			// A valid number may only survive inside a longer token.
			for _, id := range ids {
				i := strings.Index(got, id)
				before := i > 0 && isAlnum(got[i-1])
				after := i+len(id) < len(got) && isAlnum(got[i+len(id)])
				if !before && !after {
					t.Fatalf("maskIDs(%q) = %q keeps %s", s, got, personid.MaskString(id))
				}
			}
		}
		if len(got) != len(s) || utf8.ValidString(s) != utf8.ValidString(got) {
			t.Fatalf("maskIDs(%q) = %q changed the length", s, got)
		}
	})
}
