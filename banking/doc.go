// Package banking owns procfin's partner banks (Bank, 合作银行) and the
// bank protocol: signed messages in both directions, the outbound relay of
// credit applications, the inbox of bank events, and the sandbox bank.
package banking
