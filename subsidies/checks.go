package subsidies

import (
	"errors"
	"strings"

	"procfin/platform/errs"
)

// maxRejection bounds an officer's reason for rejecting a claim, in bytes.
const maxRejection = 2000

// CheckRejection names what is wrong with an officer's reason for
// rejecting a claim, as Reject: required, at most 2000 bytes.
func CheckRejection(reason string) []errs.FieldError {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return []errs.FieldError{errs.Field("reason", errs.FieldRequired)}
	case len(reason) > maxRejection:
		return []errs.FieldError{errs.Field("reason", errs.FieldTooLong, maxRejection)}
	}
	return nil
}

// Check names every bad field of a policy, as AddPolicy (Validate).
func (in PolicyInput) Check() []errs.FieldError {
	_, err := in.Validate()
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
