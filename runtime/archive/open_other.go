//go:build !unix

package archive

// Without these flags os.Root still confines every path to the target
// directory.
const (
	oNoFollow = 0
	oNonBlock = 0
)
