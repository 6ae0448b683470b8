package instance

import (
	"flag"
	"os"
	"testing"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// marvelBin is the marvel command built by TestMain (or given with
// go test ./invoker/instance/ -args -marvel=PATH).
var marvelBin string

var flagMarvel = flag.String("marvel", "", "use this marvel executable instead of building ./cmd/marvel")

func TestMain(m *testing.M) {
	flag.Parse()
	marvelBin = *flagMarvel
	os.Exit(testbin.Main(m, &marvelBin, true))
}
