package serve

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/hedui/hedui/serve/audit"
)

// auditEvery is the least time between two syncs of the audit log by
// syncAudit: the audit entries of checks are durable in the check file
// already, so the audit log's own syncs can be few and off the path of the
// answers.
const auditEvery = 100 * time.Millisecond

// syncAudit syncs the audit log after checks wrote to it, at most every
// auditEvery, and records the last entry made durable, which the next
// check lines carry (audit_synced). It returns when the server stops; Close
// syncs the rest.
func (srv *Server) syncAudit() {
	defer close(srv.auditDone)
	for {
		select {
		case <-srv.auditKick:
		case <-srv.base.Done():
			return
		}
		seq, err := srv.audit.Sync()
		if err != nil {
			srv.log.Error("audit log sync failed; checks are refused from now on", "err", err)
			srv.auditErr.Store(&err)
			return
		}
		srv.auditSynced.Store(seq)
		select {
		case <-time.After(auditEvery):
		case <-srv.base.Done():
			return
		}
	}
}

// kickAudit tells syncAudit that the audit log has unsynced entries.
func (srv *Server) kickAudit() {
	select {
	case srv.auditKick <- struct{}{}:
	default:
	}
}

// auditFailed returns the error of a failed audit log sync: after it no
// check is answered, as none could be audited for sure.
func (srv *Server) auditFailed() error {
	if p := srv.auditErr.Load(); p != nil {
		return *p
	}
	return nil
}

// recoverAudit appends again the audit entries of checks that the check
// file holds but the audit log lost in a crash (the machine stopped after
// a check's line reached the disk and before the audit log's next sync):
// an answered check is always in the audit log. The entries keep their
// content and time; they get new places in the chain, and their detail
// says so. It then syncs the log and notes its head as durable.
func (srv *Server) recoverAudit() error {
	pending := srv.checks.pending
	srv.checks.pending = nil
	if len(pending) > 0 {
		slices.SortFunc(pending, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
		logged, err := audit.EntriesAfter(filepath.Join(srv.cfg.DataDir, "audit.jsonl"), pending[0].Seq-1)
		if err != nil {
			return fmt.Errorf("recover audit entries from checks.jsonl: %w", err)
		}
		// An entry is there under its own hash, or (recovered by an earlier
		// start) under another: a check is created once.
		have := map[string]bool{}
		for _, e := range logged {
			have[e.Hash] = true
			have[e.Action+" "+e.Check] = true
		}
		for _, e := range pending {
			if have[e.Hash] || have[e.Action+" "+e.Check] {
				continue
			}
			e.Detail = fmt.Sprintf("recovered from checks.jsonl: written as entry %d, which a crash kept from the disk", e.Seq)
			if _, err := srv.audit.Write(e); err != nil {
				return fmt.Errorf("recover audit entry of check %s: %w", e.Check, err)
			}
			srv.log.Warn("audit entry recovered from the check file", "check", e.Check, "was_seq", e.Seq)
		}
	}
	seq, err := srv.audit.Sync()
	if err != nil {
		return err
	}
	srv.auditSynced.Store(seq)
	return nil
}
