package personid

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Hand-computed check characters used below. S = Σ digit_i × W_i,
// W = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, check = "10X98765432"[S mod 11].
//
//	53010219800101123: 5·7+3·9+0·10+1·5+0·8+2·4+1·2+9·1+8·6+0·3+0·7+1·9+0·10+1·5+1·8+2·4+3·2
//	                 = 35+27+0+5+0+8+2+9+48+0+0+9+0+5+8+8+6 = 170; 170 mod 11 = 5 → '7'
//	11010519491231002: S = 167, mod 11 = 2 → 'X'  (the example printed in GB 11643-1999)
//	44052418800101001: S = 195, mod 11 = 8 → '4'  (the standard's other example, born 1880)
//	11010520000229001: S = 130, mod 11 = 9 → '3'  (leap day 2000)
//	11010119000229001: S = 121, mod 11 = 0 → '1'  (1900 is not a leap year)
//	53262119751130154: S = 282, mod 11 = 7 → '5'
//	65010220991231999: S = 371, mod 11 = 8 → '4'  (last accepted year)
//	53010218900101002: S = 157, mod 11 = 3 → '9'  (first accepted year)
const (
	kunming   = "530102198001011237"
	beijingX  = "11010519491231002X"
	leap2000  = "110105200002290013"
	late2099  = "650102209912319994"
	early1890 = "530102189001010029"
	dali      = "532621197511301545"
)

func key(t testing.TB, s string) Key {
	t.Helper()
	v, err := strconv.ParseUint(s[:17], 10, 64)
	if err != nil {
		t.Fatalf("bad test key %q: %v", s, err)
	}
	return Key(v)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		want   string // canonical form when accepted
		reason Reason
		from15 bool
	}{
		// Accepted, clean.
		{name: "clean", raw: kunming, want: kunming},
		{name: "check X", raw: beijingX, want: beijingX},
		{name: "leap day 2000", raw: leap2000, want: leap2000},
		{name: "year 2099", raw: late2099, want: late2099},
		{name: "year 1890", raw: early1890, want: early1890},
		{name: "yunnan county", raw: dali, want: dali},

		// Accepted after normalization.
		{name: "lower-case x", raw: "11010519491231002x", want: beijingX},
		{name: "full-width digits", raw: "５３０１０２１９８００１０１１２３７", want: kunming},
		{name: "full-width X", raw: "１１０１０５１９４９１２３１００２Ｘ", want: beijingX},
		{name: "full-width x", raw: "１１０１０５１９４９１２３１００２ｘ", want: beijingX},
		{name: "mixed widths", raw: "530102１９８００１０１1237", want: kunming},
		{name: "ascii spaces around", raw: "  530102198001011237 \t\r\n", want: kunming},
		{name: "ideographic spaces around", raw: "\u3000530102198001011237\u3000", want: kunming},
		{name: "nbsp and bom", raw: "\uFEFF\u00a0530102198001011237\u00a0", want: kunming},
		{name: "inner spaces", raw: "530102 19800101 1237", want: kunming},
		{name: "inner ideographic spaces", raw: "530102\u300019800101\u30001237", want: kunming},
		{name: "inner dashes", raw: "530102-19800101-1237", want: kunming},
		{name: "double dash", raw: "530102--19800101-1237", want: kunming},
		{name: "unicode dashes", raw: "530102－19800101—123‐7", want: kunming},
		{name: "en dash and nb hyphen", raw: "530102–19800101‑1237", want: kunming},
		{name: "dash with spaces", raw: " 530102 - 19800101 - 1237 ", want: kunming},
		{name: "full-width space inside", raw: "５３０１０２　１９８００１０１　１２３７", want: kunming},

		// 15-digit numbers.
		// 530102 + "19" + 800101123 = 53010219800101123, check 7 (S = 170, see the top).
		{name: "15 digits", raw: "530102800101123", want: kunming, from15: true},
		{name: "15 digits, check X", raw: "110105491231002", want: beijingX, from15: true},
		{name: "15 digits spaced", raw: " 530102 800101 123 ", want: kunming, from15: true},
		{name: "15 digits full-width", raw: "５３０１０２８００１０１１２３", want: kunming, from15: true},
		{name: "15 digits 1900-02-29", raw: "110101000229001", reason: ReasonBirthDate},
		{name: "15 digits bad month", raw: "530102801301123", reason: ReasonBirthDate},
		{name: "15 digits bad address", raw: "990102800101123", reason: ReasonAddress},
		{name: "15 digits with X", raw: "53010280010112X", reason: ReasonCharacters},

		// empty
		{name: "empty", raw: "", reason: ReasonEmpty},
		{name: "spaces only", raw: " \t ", reason: ReasonEmpty},
		{name: "ideographic space only", raw: "\u3000", reason: ReasonEmpty},
		{name: "dash placeholder", raw: "-", reason: ReasonEmpty},
		{name: "em dash placeholder", raw: " — ", reason: ReasonEmpty},

		// characters
		{name: "letter", raw: "53010219800101123a", reason: ReasonCharacters},
		{name: "name in id column", raw: "张三", reason: ReasonCharacters},
		{name: "X not last", raw: "5301021980010112X7", reason: ReasonCharacters},
		{name: "X first", raw: "X30102198001011237", reason: ReasonCharacters},
		{name: "two X", raw: "53010219800101123XX", reason: ReasonCharacters},
		{name: "leading dash", raw: "-530102198001011237", reason: ReasonCharacters},
		{name: "trailing dash", raw: "530102198001011237-", reason: ReasonCharacters},
		{name: "invalid utf-8", raw: "530102198001011\xff237", reason: ReasonCharacters},
		{name: "overlong zero", raw: "53010219800101123\xc0\xb0", reason: ReasonCharacters},
		{name: "excel scientific", raw: "5.30102E+17", reason: ReasonCharacters},
		{name: "id followed by name", raw: "530102198001011237 张三", reason: ReasonCharacters},
		{name: "long then bad", raw: strings.Repeat("1", 100) + "a", reason: ReasonCharacters},
		{name: "other dash U+2212", raw: "530102\u221219800101-1237", reason: ReasonCharacters},

		// length
		{name: "short", raw: "12345", reason: ReasonLength},
		{name: "16", raw: "5301021980010112", reason: ReasonLength},
		{name: "17", raw: "53010219800101123", reason: ReasonLength},
		{name: "17 ending in X", raw: "5301021980010112X", reason: ReasonLength},
		{name: "19", raw: "5301021980010112370", reason: ReasonLength},
		{name: "very long", raw: strings.Repeat("1", 1000), reason: ReasonLength},

		// address
		{name: "province 99", raw: "990102198001011237", reason: ReasonAddress},
		{name: "province 10", raw: "100102198001011237", reason: ReasonAddress},
		{name: "province 00", raw: "000000198001011237", reason: ReasonAddress},
		{name: "province 72", raw: "720102198001011237", reason: ReasonAddress},
		{name: "address before date and checksum", raw: "990102198013011230", reason: ReasonAddress},

		// birth_date
		{name: "february 30", raw: "530102198002301237", reason: ReasonBirthDate},
		{name: "1900-02-29", raw: "110101190002290011", reason: ReasonBirthDate},
		{name: "born 1880 (standard's example)", raw: "440524188001010014", reason: ReasonBirthDate},
		{name: "year 2100", raw: "530102210001011237", reason: ReasonBirthDate},
		{name: "month 13", raw: "530102198013011237", reason: ReasonBirthDate},
		{name: "month 0", raw: "530102198000011237", reason: ReasonBirthDate},
		{name: "day 0", raw: "530102198001001237", reason: ReasonBirthDate},
		{name: "april 31", raw: "530102198004311237", reason: ReasonBirthDate},
		{name: "date before checksum", raw: "530102198013011230", reason: ReasonBirthDate},

		// checksum
		{name: "wrong digit", raw: "530102198001011236", reason: ReasonChecksum},
		{name: "X instead of 7", raw: "53010219800101123X", reason: ReasonChecksum},
		{name: "0 instead of X", raw: "110105194912310020", reason: ReasonChecksum},
		{name: "transposed digits", raw: "530102198001011327", reason: ReasonChecksum},
		{name: "normalized, wrong check", raw: "530102-19800101-1236", reason: ReasonChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Parsed{Reason: tt.reason, From15: tt.from15}
			if tt.want != "" {
				want.Key = key(t, tt.want)
			}
			if got := Parse(tt.raw); got != want {
				t.Errorf("Parse(%q) = %+v (%q), want %+v (%q)", tt.raw, got, got.Key, want, want.Key)
			}
			if got := ParseBytes([]byte(tt.raw)); got != want {
				t.Errorf("ParseBytes(%q) = %+v, want %+v", tt.raw, got, want)
			}
			if got := refParse(tt.raw); got != want {
				t.Errorf("reference parse of %q = %+v, want %+v (test oracle disagrees)", tt.raw, got, want)
			}
		})
	}
}

func TestKeyParts(t *testing.T) {
	tests := []struct {
		s                string
		region           uint32
		year, month, day int
		male             bool
		mask, old15      string
	}{
		{kunming, 530102, 1980, 1, 1, true, "530102********1237", "530102800101123"},
		{beijingX, 110105, 1949, 12, 31, false, "110105********002X", "110105491231002"},
		{leap2000, 110105, 2000, 2, 29, true, "110105********0013", ""},
		{late2099, 650102, 2099, 12, 31, true, "650102********9994", ""},
		{early1890, 530102, 1890, 1, 1, false, "530102********0029", ""},
		{dali, 532621, 1975, 11, 30, false, "532621********1545", "532621751130154"},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			k := key(t, tt.s)
			if got := k.String(); got != tt.s {
				t.Errorf("String() = %q, want %q", got, tt.s)
			}
			if got := string(k.AppendTo([]byte("id="))); got != "id="+tt.s {
				t.Errorf("AppendTo = %q, want %q", got, "id="+tt.s)
			}
			if got := k.CheckChar(); got != tt.s[17] {
				t.Errorf("CheckChar() = %q, want %q", got, tt.s[17])
			}
			if got := k.Region(); got != tt.region {
				t.Errorf("Region() = %d, want %d", got, tt.region)
			}
			if y, m, d := k.BirthDate(); y != tt.year || m != tt.month || d != tt.day {
				t.Errorf("BirthDate() = %d-%d-%d, want %d-%d-%d", y, m, d, tt.year, tt.month, tt.day)
			}
			if got := k.Male(); got != tt.male {
				t.Errorf("Male() = %v, want %v", got, tt.male)
			}
			if got := k.Mask(); got != tt.mask {
				t.Errorf("Mask() = %q, want %q", got, tt.mask)
			}
			old, ok := k.Old15()
			if old != tt.old15 || ok != (tt.old15 != "") {
				t.Errorf("Old15() = %q, %v, want %q", old, ok, tt.old15)
			}
			if ok {
				if p := Parse(old); p.Key != k || !p.From15 || p.Reason != ReasonNone {
					t.Errorf("Parse(Old15()) = %+v, want key %s from 15", p, k)
				}
			}
		})
	}
}

func TestZeroKey(t *testing.T) {
	var k Key
	if s := k.String(); s != "" {
		t.Errorf("String() = %q, want empty", s)
	}
	if s := k.Mask(); s != "" {
		t.Errorf("Mask() = %q, want empty", s)
	}
	if b := k.AppendTo([]byte("x")); string(b) != "x" {
		t.Errorf("AppendTo = %q, want unchanged", b)
	}
	if s, ok := k.Old15(); ok || s != "" {
		t.Errorf("Old15() = %q, %v, want \"\", false", s, ok)
	}
}

func TestNew(t *testing.T) {
	k, err := New(530102, 1980, 1, 1, 123)
	if err != nil || k.String() != kunming {
		t.Fatalf("New(530102, 1980-01-01, 123) = %q, %v, want %q", k, err, kunming)
	}
	bad := []struct {
		name             string
		region           uint32
		year, month, day int
		seq              int
		errHas           string
	}{
		{"region too short", 53010, 1980, 1, 1, 1, "region 53010"},
		{"region too long", 5301021, 1980, 1, 1, 1, "region 5301021"},
		{"unknown province", 990102, 1980, 1, 1, 1, "region 990102"},
		{"not a date", 530102, 1980, 2, 30, 1, "1980-02-30"},
		{"1900-02-29", 530102, 1900, 2, 29, 1, "1900-02-29"},
		{"year too early", 530102, 1889, 12, 31, 1, "1889-12-31"},
		{"year too late", 530102, 2100, 1, 1, 1, "2100-01-01"},
		{"sequence too big", 530102, 1980, 1, 1, 1000, "sequence 1000"},
		{"sequence negative", 530102, 1980, 1, 1, -1, "sequence -1"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			k, err := New(tt.region, tt.year, tt.month, tt.day, tt.seq)
			if err == nil || k != 0 {
				t.Fatalf("New = %d, %v, want an error", k, err)
			}
			if !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), "want") {
				t.Errorf("error %q should quote %q and say what is allowed", err, tt.errHas)
			}
		})
	}
}

// TestRoundTrip builds keys over every province, both sexes, month ends and
// leap days, and checks New → String → Parse and New → Old15 → Parse.
func TestRoundTrip(t *testing.T) {
	provinces := []uint32{11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
		41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
	dates := [][3]int{{1890, 1, 1}, {1900, 2, 28}, {1949, 10, 1}, {1996, 2, 29}, {1999, 12, 31},
		{2000, 2, 29}, {2024, 4, 30}, {2099, 12, 31}}
	n := 0
	for i, p := range provinces {
		for j, d := range dates {
			region := p*1e4 + uint32(i*j%100)*100 + uint32(j)
			for _, seq := range []int{0, 1, 2, 999} {
				k, err := New(region, d[0], d[1], d[2], seq)
				if err != nil {
					t.Fatalf("New(%d, %v, %d): %v", region, d, seq, err)
				}
				s := k.String()
				if got := Parse(s); got != (Parsed{Key: k}) {
					t.Fatalf("Parse(%q) = %+v, want key %d", s, got, k)
				}
				if k.Region() != region || k.Male() != (seq%2 == 1) {
					t.Fatalf("%s: Region %d Male %v, want %d %v", s, k.Region(), k.Male(), region, seq%2 == 1)
				}
				if y, m, dd := k.BirthDate(); [3]int{y, m, dd} != d {
					t.Fatalf("%s: BirthDate %d-%d-%d, want %v", s, y, m, dd, d)
				}
				old, ok := k.Old15()
				if ok != (d[0] >= 1900 && d[0] <= 1999) {
					t.Fatalf("%s: Old15 ok = %v for year %d", s, ok, d[0])
				}
				if ok {
					if got := Parse(old); got != (Parsed{Key: k, From15: true}) {
						t.Fatalf("Parse(%q) = %+v, want key %s from 15", old, got, s)
					}
				}
				n++
			}
		}
	}
	if n != len(provinces)*len(dates)*4 {
		t.Fatalf("checked %d keys", n)
	}
}

func TestReasonWords(t *testing.T) {
	words := []string{"empty", "length", "characters", "checksum", "birth_date", "address"}
	got := Reasons()
	if len(got) != len(words) {
		t.Fatalf("Reasons() = %v, want %d reasons", got, len(words))
	}
	for i, r := range got {
		if r.String() != words[i] {
			t.Errorf("Reasons()[%d].String() = %q, want %q", i, r, words[i])
		}
		if back, ok := ParseReason(words[i]); !ok || back != r {
			t.Errorf("ParseReason(%q) = %v, %v, want %v", words[i], back, ok, r)
		}
	}
	if ReasonNone.String() != "" {
		t.Errorf("ReasonNone.String() = %q", ReasonNone.String())
	}
	if r, ok := ParseReason(""); !ok || r != ReasonNone {
		t.Errorf("ParseReason(\"\") = %v, %v, want ReasonNone, true", r, ok)
	}
	for _, w := range []string{"Empty", "birth-date", "unknown", " empty"} {
		if r, ok := ParseReason(w); ok {
			t.Errorf("ParseReason(%q) = %v, true, want false", w, r)
		}
	}
	if s := Reason(200).String(); s != "reason(200)" {
		t.Errorf("Reason(200).String() = %q", s)
	}
	got[0] = ReasonNone // the caller's copy must not change the next answer
	if Reasons()[0] != ReasonEmpty {
		t.Error("Reasons() returned shared state")
	}
}

func TestMaskString(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"   ", ""},
		{kunming, "530102********1237"},
		{beijingX, "110105********002X"},
		{" 530102198001011237\u3000", "530102********1237"},
		{"530102-19800101-1237", "530102**********1237"},
		{"530102800101123", "530102*****1123"},
		{"５３０１０２１９８００１０１１２３７", "５３０１０２********１２３７"},
		{"123456789012", "123456**9012"},       // 12 runes: 10 revealed
		{"12345678901", "***********"},         // 11 runes: none revealed
		{"张三", "**"},                           // a name: nothing revealed
		{"云南省昆明市五华区某某街道一号", "云南省昆明市*****街道一号"}, // 15 runes
		{"53\n102198001011237", "53*102********1237"},
		{"530102198001011\xff37", "530102********1*37"}, // invalid UTF-8 is masked
	}
	for _, tt := range tests {
		if got := MaskString(tt.raw); got != tt.want {
			t.Errorf("MaskString(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// TestDecodeRune compares the package's decoder with unicode/utf8 on edge cases.
func TestDecodeRune(t *testing.T) {
	for _, s := range []string{"a", "\u00a0", "\u3000", "\uFF10", "\U0001F600", "\uFFFD",
		"\xc0\xb0", "\xc2", "\xe3\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x8f\xbf\xbf",
		"\xff", "\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"} {
		checkDecodeRune(t, []byte(s))
	}
}

func checkDecodeRune(t *testing.T, b []byte) {
	t.Helper()
	for i := range b {
		r, size := decodeRune(b, i)
		rs, sizeS := decodeRune(string(b), i)
		want, wantSize := utf8.DecodeRune(b[i:])
		if r != want || size != wantSize || rs != r || sizeS != size {
			t.Fatalf("decodeRune(%q, %d) = %U %d (string: %U %d), utf8 says %U %d",
				b, i, r, size, rs, sizeS, want, wantSize)
		}
	}
}

func TestAllocs(t *testing.T) {
	clean := []byte(kunming)
	buf := make([]byte, 0, 64)
	long := strings.Repeat("1", 200)
	var sink Parsed
	cases := []struct {
		name string
		fn   func()
	}{
		{"Parse clean 18", func() { sink = Parse(kunming) }},
		{"ParseBytes clean 18", func() { sink = ParseBytes(clean) }},
		{"Parse full-width", func() { sink = Parse("５３０１０２１９８００１０１１２３７") }},
		{"Parse dashes", func() { sink = Parse("530102-19800101-1237") }},
		{"Parse 15", func() { sink = Parse("530102800101123") }},
		{"Parse rejected", func() { sink = Parse("530102198001011236") }},
		{"Parse long", func() { sink = Parse(long) }},
		{"AppendTo", func() { buf = key(t, kunming).AppendTo(buf[:0]) }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, c.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, n)
		}
	}
	_ = sink
}

// refParse is a slow, independent oracle for Parse written with the standard
// library's string, regexp, strconv and time functions instead of the
// package's single-pass scanner.
func refParse(raw string) Parsed {
	var b strings.Builder
	for _, r := range raw { // invalid UTF-8 becomes U+FFFD, a rejected character
		switch {
		case r == '\uFEFF' || unicode.IsSpace(r):
			// removed
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		case r == 'x' || r == 'Ｘ' || r == 'ｘ':
			b.WriteByte('X')
		case strings.ContainsRune("-－‐‑–—", r):
			b.WriteByte('-')
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	if strings.Trim(s, "-") == "" {
		return Parsed{Reason: ReasonEmpty}
	}
	if !refShape.MatchString(s) {
		return Parsed{Reason: ReasonCharacters}
	}
	s = strings.ReplaceAll(s, "-", "")
	if x := strings.IndexByte(s, 'X'); x >= 0 && x != len(s)-1 {
		return Parsed{Reason: ReasonCharacters}
	}
	if len(s) != 15 && len(s) != 18 {
		return Parsed{Reason: ReasonLength}
	}
	from15 := len(s) == 15
	if from15 {
		if strings.Contains(s, "X") {
			return Parsed{Reason: ReasonCharacters}
		}
		s = s[:6] + "19" + s[6:]
	}
	province, _ := strconv.Atoi(s[:2])
	if !slices.Contains(refProvinces, province) {
		return Parsed{Reason: ReasonAddress}
	}
	date, err := time.Parse("20060102", s[6:14])
	if err != nil || date.Year() < 1890 || date.Year() > 2099 {
		return Parsed{Reason: ReasonBirthDate}
	}
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	check := "10X98765432"[sum%11]
	if !from15 && s[17] != check {
		return Parsed{Reason: ReasonChecksum}
	}
	v, _ := strconv.ParseUint(s[:17], 10, 64)
	return Parsed{Key: Key(v), From15: from15}
}

var (
	refShape     = regexp.MustCompile(`^[0-9X]+(-+[0-9X]+)*$`)
	refProvinces = []int{11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
		41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{kunming, beijingX, leap2000, late2099, early1890, dali,
		"11010519491231002x", "５３０１０２１９８００１０１１２３７", "530102-19800101-1237",
		"\u3000530102 19800101 1237\u3000", "530102800101123", "110105491231002",
		"", "-", "—", "张三", "5301021980010112X7", "530102198002301237", "990102198001011237",
		"530102198001011236", "110101190002290011", "53010219800101123\xc0\xb0", "\xe3\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := Parse(raw)
		if gb := ParseBytes([]byte(raw)); gb != got {
			t.Fatalf("ParseBytes(%q) = %+v, Parse = %+v", raw, gb, got)
		}
		if want := refParse(raw); got != want {
			t.Fatalf("Parse(%q) = %+v, reference = %+v", raw, got, want)
		}
		checkDecodeRune(t, []byte(raw))
		if got.Reason != ReasonNone {
			if got.Key != 0 || got.From15 || !slices.Contains(Reasons(), got.Reason) {
				t.Fatalf("Parse(%q) = %+v: a rejection must carry no key and a known reason", raw, got)
			}
			return
		}
		if got.Key == 0 {
			t.Fatalf("Parse(%q) accepted the zero key", raw)
		}
		s := got.Key.String()
		if len(s) != 18 || string(got.Key.AppendTo(nil)) != s || got.Key.CheckChar() != s[17] {
			t.Fatalf("Parse(%q): key renders as %q, AppendTo %q, CheckChar %q",
				raw, s, got.Key.AppendTo(nil), got.Key.CheckChar())
		}
		if again := Parse(s); again != (Parsed{Key: got.Key}) {
			t.Fatalf("Parse(%q) = %+v, want key %s not from 15", s, again, s)
		}
		if m := got.Key.Mask(); m != s[:6]+"********"+s[14:] {
			t.Fatalf("Mask of %s = %q", s, m)
		}
		var buf, buf2 [keyLen]byte
		n, _ := normalize(raw, &buf)
		norm := string(buf[:n])
		n2, r2 := normalize(norm, &buf2)
		if r2 != ReasonNone || string(buf2[:n2]) != norm {
			t.Fatalf("normalize(%q) = %q, not idempotent: %q, %v", raw, norm, buf2[:n2], r2)
		}
		if again := Parse(norm); again != got {
			t.Fatalf("Parse of normalized %q = %+v, Parse(%q) = %+v", norm, again, raw, got)
		}
	})
}

func FuzzMaskString(f *testing.F) {
	for _, s := range []string{"", kunming, "张三", "123456789012", "12345678901", " a\u3000", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := MaskString(raw)
		trimmed := []rune(strings.TrimFunc(raw, func(r rune) bool { return r == '\uFEFF' || unicode.IsSpace(r) }))
		out := []rune(got)
		if len(out) != len(trimmed) {
			t.Fatalf("MaskString(%q) = %q: %d runes, want %d", raw, got, len(out), len(trimmed))
		}
		revealed := 0
		for i, r := range out {
			if r == '*' {
				continue
			}
			revealed++
			if r != trimmed[i] || (i >= 6 && i < len(out)-4) {
				t.Fatalf("MaskString(%q) = %q reveals %q at %d", raw, got, r, i)
			}
		}
		if revealed > 10 {
			t.Fatalf("MaskString(%q) = %q reveals %d characters", raw, got, revealed)
		}
	})
}

var (
	sinkParsed Parsed
	sinkString string
)

func BenchmarkParseClean18(b *testing.B) {
	for b.Loop() {
		sinkParsed = Parse(kunming)
	}
}

func BenchmarkParseBytesClean18(b *testing.B) {
	raw := []byte(kunming)
	for b.Loop() {
		sinkParsed = ParseBytes(raw)
	}
}

func BenchmarkParseNormalize(b *testing.B) {
	for _, raw := range []string{"５３０１０２１９８００１０１１２３７", "530102-19800101-1237", " 11010519491231002x "} {
		b.Run(MaskString(raw), func(b *testing.B) {
			for b.Loop() {
				sinkParsed = Parse(raw)
			}
		})
	}
}

func BenchmarkParse15(b *testing.B) {
	for b.Loop() {
		sinkParsed = Parse("530102800101123")
	}
}

func BenchmarkString(b *testing.B) {
	k := key(b, kunming)
	for b.Loop() {
		sinkString = k.String()
	}
}

func BenchmarkAppendTo(b *testing.B) {
	k := key(b, kunming)
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = k.AppendTo(buf[:0])
	}
}
