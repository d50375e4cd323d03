package lending

import "context"

// ApplyBatch writes the applications in one batch of the intake, as it
// writes those of concurrent requests, and returns each one's answer.
func (s *Service) ApplyBatch(whos []Applicant, ins []ApplyInput) ([]Application, []error) {
	items := make([]*intakeItem, len(ins))
	for i := range ins {
		items[i] = &intakeItem{ctx: context.Background(), who: whos[i], in: ins[i], done: make(chan struct{})}
	}
	s.intake.write(items)
	apps, errs := make([]Application, len(items)), make([]error, len(items))
	for i, it := range items {
		apps[i], errs[i] = it.app, it.err
	}
	return apps, errs
}
