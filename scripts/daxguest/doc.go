// Package daxguest runs scripts/dax-guest.sh from go test: it boots a qemu
// guest with emulated NVDIMMs, runs the pmem package's DAX tests and
// `marvel pmem` in it (fsdax on ext4 -o dax, and devdax), and turns the
// guest's serial console into pass or fail. It holds no code of its own but
// the test; docs/dax-guest.md says what the guest proves and what it costs.
//
//	go test -count=1 -v -run '^TestDAXGuest$' ./scripts/daxguest
//
// # Environment
//
//   - MARVEL_DAX=0 skips TestDAXGuest; MARVEL_DAX=1 (or unset) runs it when
//     qemu-system-x86_64 is installed and -short is not given.
//   - MARVEL_REQUIRE_DAX=1 runs it even under -short or without qemu (the
//     script then installs qemu from Debian), and fails rather than skips.
//   - MARVEL_DAX_* variables reach the script (see scripts/dax-guest.sh).
//
// # Caveats
//
//   - An emulated NVDIMM is ordinary host memory: the guest proves that the
//     DAX code paths run (MAP_SYNC accepted, CLWB issued, device-DAX mapped)
//     and that recovery on a real DAX mapping is right, not that anything is
//     durable across power loss or fast on real persistent memory.
//   - Without /dev/kvm the guest runs under TCG: about two minutes warm.
package daxguest
