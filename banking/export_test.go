package banking

import (
	"context"
)

// ApplyBatch applies the events in one batch of the inbox, as it applies
// those of concurrent requests, each with its replay check (nil for none),
// and returns each one's outcome and error. A body that does not parse
// gets its error, as Apply answers it, and is not in the batch.
func (ev *Events) ApplyBatch(bankID string, bodies [][]byte, consumes []*Consume) ([]string, []error) {
	items := make([]*inboxItem, len(bodies))
	var batch []*inboxItem
	for i, body := range bodies {
		env, data, err := ParseEvent(body)
		if err != nil {
			items[i] = &inboxItem{err: err}
			continue
		}
		items[i] = newInboxItem(context.Background(), bankID, env, data, body, consumes[i])
		items[i].done = make(chan struct{})
		batch = append(batch, items[i])
	}
	ev.inbox.write(batch)
	outcomes, errors := make([]string, len(items)), make([]error, len(items))
	for i, it := range items {
		outcomes[i], errors[i] = it.outcome, it.err
	}
	return outcomes, errors
}
