package sources

// Quality is the data-quality record of one manifest entry. Counts reconcile:
// Rows = ValidKeys + QuarantinedTotal, and after a run
// ValidKeys = MatchedID + Unmatched.
type Quality struct {
	Kind             Kind             `json:"kind"`
	Path             string           `json:"path"`
	Files            int              `json:"files"`
	Snapshot         string           `json:"snapshot"` // ISO date
	AgeDays          int              `json:"age_days"` // as_of − snapshot
	Rows             int64            `json:"rows"`
	ValidKeys        int64            `json:"valid_keys"`
	From15           int64            `json:"from_15_digits"`
	Quarantined      map[string]int64 `json:"quarantined"` // by personid.Reason word
	QuarantinedTotal int64            `json:"quarantined_total"`
	DuplicateRows    int64            `json:"duplicate_rows"` // identical to an earlier row in every canonical column
	// Filled by the matcher during a run.
	MatchedID      int64 `json:"matched_id"`
	MatchedNameDOB int64 `json:"matched_name_dob"` // among the quarantined rows
	Unmatched      int64 `json:"unmatched"`
}

// Quarantine collects rows rejected for an invalid key and writes them, sorted
// by entry, file and row whatever the order they arrived in, as Parquet files
// under a folder (one file per kind: quarantine/<kind>.parquet) with the
// columns file, row, column, value, reason.
type Quarantine struct {
	impl *quarantineImpl
}
