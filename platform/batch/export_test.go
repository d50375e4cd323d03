package batch

// OnLinger has fn called as a writer of q starts to linger (with q's lock
// held: fn must not call Add).
func OnLinger[T any](q *Queue[T], fn func()) { q.lingered = fn }
