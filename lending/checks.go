package lending

import (
	"context"

	"procfin/platform/errs"
)

// The checks of a request's fields, reading and changing nothing, for a
// caller that could read only some of a body's fields: it names the
// problems of the others with those of the unreadable ones, at once. The
// business calls run the same checks again.

// CheckApply names every problem of an application's fields, as Apply.
func (s *Service) CheckApply(in ApplyInput) []errs.FieldError { return s.validate(in) }

// CheckPublish names every problem of a financing need's fields, as
// Publish (reading the programme's banks).
func (s *Service) CheckPublish(ctx context.Context, in PublishInput) []errs.FieldError {
	var banks []programmeBank
	if err := s.db.SelectContext(ctx, &banks, `SELECT id, name FROM banks ORDER BY id`); err != nil {
		return nil
	}
	fe, _, _ := s.validateIntent(in, banks, s.now())
	return fe
}

// Check names every malformed field of a confirmation, as Confirm.
func (c Confirmation) Check() []errs.FieldError { return c.validate() }

// Check names what is wrong with a refusal's reason, as Refuse.
func (r Refusal) Check() []errs.FieldError { return r.validate() }
