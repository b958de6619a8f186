package rules

import "testing"

// TestDefaultCases runs every case of the default rule set.
func TestDefaultCases(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunCasesData(s, DefaultCasesYAML(), "default_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if !c.Pass {
			t.Errorf("case %q (line %d) failed:", c.Name, c.Line)
			for _, d := range c.Diff {
				t.Errorf("    %s", d)
			}
		}
	}
	if rep.Passed == 0 {
		t.Fatal("no case ran")
	}
	t.Logf("%d passed, %d failed", rep.Passed, rep.Failed)
}
