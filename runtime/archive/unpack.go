package archive

import (
	"errors"
	"fmt"
	"os"
)

// Unpack writes payload into dir, which must already exist and be empty
// (else an error wrapping ErrInvalid). Zip and tar.gz archives are extracted
// under the rules in the package documentation; any other payload is written
// whole to dir/exec with mode 0755, as KindExecutable when it starts with
// "\x7fELF" or "#!" and as KindSource otherwise. An empty payload is refused
// with ErrInvalid. Zero fields of lim take their defaults.
//
// It returns the Kind. On any error the Kind is zero and everything Unpack
// wrote under dir has been removed (dir itself stays, empty); if that removal
// fails too, its error is joined to the returned one.
func Unpack(payload []byte, dir string, lim Limits) (Kind, error) {
	if err := lim.Validate(); err != nil {
		return 0, err
	}
	lim = lim.withDefaults()
	if len(payload) == 0 {
		return 0, fmt.Errorf("%w: empty payload; send the action code (a binary, a script, Go source, a zip or a tar.gz)", ErrInvalid)
	}
	root, err := openTarget(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()

	kind := Detect(payload)
	x := newExtractor(root, lim)
	switch kind {
	case KindZip:
		err = unpackZip(x, payload)
	case KindTarGz:
		err = unpackTarGz(x, payload)
	default:
		err = writeSingle(x, payload)
	}
	if err != nil {
		if rerr := removeContents(root); rerr != nil {
			err = errors.Join(err, fmt.Errorf("archive: removing what was unpacked into %q: %w", dir, rerr))
		}
		return 0, err
	}
	return kind, nil
}

// openTarget opens dir as a root for extraction after checking that it is an
// existing, empty directory.
func openTarget(dir string) (*os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: target directory %q: %w", ErrInvalid, dir, err)
	}
	empty, err := isEmpty(root)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("%w: listing target directory %q: %w", ErrInvalid, dir, err)
	}
	if !empty {
		root.Close()
		return nil, fmt.Errorf("%w: target directory %q is not empty; unpack into a fresh directory", ErrInvalid, dir)
	}
	return root, nil
}

// writeSingle writes a non-archive payload to exec, mode 0755.
func writeSingle(x *extractor, payload []byte) error {
	if err := x.countEntry(execName); err != nil {
		return err
	}
	n := int64(len(payload))
	if n > x.lim.MaxFileBytes {
		return x.tooLargeFile(execName, fmt.Sprintf("is %d bytes", n))
	}
	if n > x.lim.MaxTotalBytes {
		return x.tooLargeTotal(execName)
	}
	if err := x.claim(execName, execName, regularFile); err != nil {
		return err
	}
	f, err := x.root.OpenFile(execName, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, execMode)
	if err != nil {
		return fmt.Errorf("archive: create %q: %w", execName, err)
	}
	_, err = f.Write(payload)
	if err != nil {
		err = fmt.Errorf("archive: write %q: %w", execName, err)
	} else if err = f.Chmod(execMode); err != nil {
		err = fmt.Errorf("archive: chmod %q: %w", execName, err)
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("archive: close %q: %w", execName, cerr)
	}
	return err
}
