package lending

import (
	"context"
	"strings"
	"testing"

	"github.com/lib/pq"

	"procfin/platform/postgres/pgtest"
)

// TestContractBanksUseTheLiveIndex: contract.single_bank's read of a
// contract's banks probes applications_contract_live, whose predicate is
// the live set, rather than reading every application of the contract.
func TestContractBanksUseTheLiveIndex(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	var def string
	if err := db.GetContext(ctx, &def, `SELECT indexdef FROM pg_indexes WHERE indexname = 'applications_contract_live'`); err != nil {
		t.Fatal(err)
	}
	for _, s := range liveSet {
		if !strings.Contains(def, "'"+string(s)+"'") {
			t.Errorf("the index's predicate lacks the live status %s: %s", s, def)
		}
	}
	if n := strings.Count(def, "'::text"); n != len(liveSet) {
		t.Errorf("the index's predicate has %d statuses, the live set %d: %s", n, len(liveSet), def)
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	var plan []string
	ids := pq.Array([]string{"00000000-0000-0000-0000-000000000001"})
	if err := conn.SelectContext(ctx, &plan, `EXPLAIN `+contractBanksSQL, ids); err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); strings.Count(text, "applications_contract_live") != 2 {
		t.Errorf("the read of a contract's banks does not probe applications_contract_live twice:\n%s", text)
	}
}
