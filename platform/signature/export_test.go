package signature

import "time"

// NewSeen is a verified message of sender and jti, to be remembered until
// keep, checked at now.
func NewSeen(sender, jti string, keep, now time.Time) Seen { return Seen{sender, jti, keep, now} }
