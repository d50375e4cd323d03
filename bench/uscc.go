package bench

import (
	"errors"
	"math/rand/v2"
	"sync"

	"procfin/contracts"
)

// usccAlphabet is the GB 32100 alphabet (no I, O, S, V, Z).
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// usccGen makes distinct valid unified social credit codes: "91" (an
// enterprise registered by market regulation), the division 370100 (Jinan),
// eight random characters of organisation code, then its GB 11714 check
// character and the GB 32100 check character. contracts.ParseUSCC is the
// judge: the two check characters are found by trying each candidate.
type usccGen struct {
	mu   sync.Mutex
	seen map[string]bool
}

func newUSCCGen() *usccGen { return &usccGen{seen: map[string]bool{}} }

func (g *usccGen) next() (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range 100 {
		code := []byte("91370100" + "00000000" + "00")
		for i := 8; i < 16; i++ {
			code[i] = usccAlphabet[rand.IntN(len(usccAlphabet))]
		}
		s, ok := completeUSCC(code)
		if ok && !g.seen[s] {
			g.seen[s] = true
			return s, nil
		}
	}
	return "", errors.New("bench: could not make a valid USCC") // never, unless ParseUSCC changes
}

// completeUSCC sets code's last two characters (organisation code check,
// GB 11714: a digit or X; then the GB 32100 check) so that ParseUSCC
// accepts it.
func completeUSCC(code []byte) (string, bool) {
	for _, c17 := range []byte("0123456789X") {
		code[16] = c17
		for _, c18 := range []byte(usccAlphabet) {
			code[17] = c18
			if u, err := contracts.ParseUSCC(string(code)); err == nil {
				return u.String(), true
			}
		}
	}
	return "", false
}
