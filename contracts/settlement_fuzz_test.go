package contracts

import (
	"strings"
	"testing"
	"unicode/utf8"

	"procfin/platform/text"
)

// FuzzSettlementAccount: checking an administrator's settlement account
// never panics; an account it accepts is trimmed, valid text within its
// bounds, and comes back from its stored form unchanged; one it refuses
// names only the account's own fields.
func FuzzSettlementAccount(f *testing.F) {
	f.Add("齐鲁银行济南分行", "6222 0216 0001 2345", "泉城软件有限公司")
	f.Add("", "=1+1", "x\x07y")
	f.Add(" b ", "12  34", strings.Repeat("行", 201))
	f.Add("b", "AB-12-cd", "\u202e")
	f.Fuzz(func(t *testing.T, bank, no, name string) {
		a := SettlementAccount{BankName: bank, AccountNo: no, AccountName: name}
		fe := a.check("settlement_account")
		for _, e := range fe {
			if !strings.HasPrefix(e.Field, "settlement_account.") {
				t.Fatalf("names %q", e.Field)
			}
		}
		if len(fe) > 0 {
			return
		}
		for _, v := range []string{a.BankName, a.AccountNo, a.AccountName} {
			if v == "" || v != strings.TrimSpace(v) || !text.Valid(v) {
				t.Fatalf("accepted %q", v)
			}
		}
		if utf8.RuneCountInString(a.BankName) > maxSettlementBankName || utf8.RuneCountInString(a.AccountName) > maxSettlementAccountName ||
			len(a.AccountNo) < 4 || len(a.AccountNo) > 40 {
			t.Fatalf("accepted out of bounds: %+v", a)
		}
		stored, err := a.Value()
		if err != nil {
			t.Fatal(err)
		}
		var back SettlementAccount
		if err := back.Scan([]byte(stored.(string))); err != nil || back != a {
			t.Fatalf("stored %q read back as %+v (%v), want %+v", stored, back, err, a)
		}
	})
}
