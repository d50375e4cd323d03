package contracts

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"procfin/platform/errs"
	"procfin/platform/text"
)

// SettlementAccount is a supplier's settlement account (结算账户): where
// its interest subsidies are paid. An administrator registers it with the
// supplier; the subsidies' payment files carry it.
type SettlementAccount struct {
	BankName    string `json:"bank_name"`
	AccountNo   string `json:"account_no"`
	AccountName string `json:"account_name"`
}

// Bounds of a settlement account's fields, in characters.
const (
	maxSettlementBankName    = 100
	maxSettlementAccountName = 200
)

// accountNo is a bank account number as banks print it: letters and
// digits, grouped by single spaces or hyphens, 4 to 40 characters.
var accountNo = regexp.MustCompile(`^[0-9A-Za-z]+(?:[ -][0-9A-Za-z]+)*$`)

// check trims the account's fields and names each bad one, under prefix
// (settlement_account): every field is required, valid text within its
// bound, and the account number is letters and digits.
func (a *SettlementAccount) check(prefix string) []errs.FieldError {
	a.BankName = strings.TrimSpace(a.BankName)
	a.AccountNo = strings.TrimSpace(a.AccountNo)
	a.AccountName = strings.TrimSpace(a.AccountName)
	var fe []errs.FieldError
	words := func(field, v string, max int) {
		switch {
		case v == "":
			fe = append(fe, errs.Field(prefix+"."+field, errs.FieldRequired))
		case !text.Valid(v):
			fe = append(fe, errs.Field(prefix+"."+field, errs.FieldInvalidText))
		case utf8.RuneCountInString(v) > max:
			fe = append(fe, errs.Field(prefix+"."+field, errs.FieldTooLongChars, max))
		}
	}
	words("bank_name", a.BankName, maxSettlementBankName)
	switch n := len(a.AccountNo); {
	case n == 0:
		fe = append(fe, errs.Field(prefix+".account_no", errs.FieldRequired))
	case n < 4 || n > 40 || !accountNo.MatchString(a.AccountNo):
		fe = append(fe, errs.Field(prefix+".account_no", errs.FieldInvalidFormat))
	}
	words("account_name", a.AccountName, maxSettlementAccountName)
	return fe
}

// Value stores the account as jsonb (text: binary_parameters sends text).
func (a SettlementAccount) Value() (driver.Value, error) {
	b, err := json.Marshal(a)
	return string(b), err
}

// Scan reads the jsonb column.
func (a *SettlementAccount) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, a)
	case string:
		return json.Unmarshal([]byte(v), a)
	}
	return fmt.Errorf("cannot scan %T into SettlementAccount", src)
}
