// Package signature owns procfin's signed HTTP messages (bank-protocol.md,
// "Signed messages"): the Procfin-Signature header every procurement-centre
// (issuer) system and partner bank puts on its requests, and procfin on its
// requests to banks.
//
// It owns:
//
//   - senders' public keys: parsing and validating JWK Sets (ParseJWKS), and
//     the per-sender key cache (KeySet), inline or fetched from a JWKS URL;
//   - verification of a received message (Verifier.Verify): algorithm
//     allow-list, key by kid, signature, typ, iss, aud, iat/exp, htm/htu,
//     body hash and replay;
//   - the table seen_messages, where every verified (sender, jti) is
//     remembered so a message is accepted at most once;
//   - making signed messages (Signer), for procfin's own clients, the
//     sandbox bank and tests.
//
// Callers own the senders' registrations; they hand them over through a
// SenderLookup.
package signature
