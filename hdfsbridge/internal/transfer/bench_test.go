package transfer

import (
	"io"
	"net"
	"testing"
	"time"
)

// countingWriter counts what it is given.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// drain reads exactly the byte counts sent on reqs from c with a 1 MiB
// buffer, answering each on done.
func drain(c net.Conn, reqs <-chan int64, done chan<- error) {
	buf := make([]byte, 1<<20)
	for n := range reqs {
		var err error
		for n > 0 && err == nil {
			var m int
			m, err = c.Read(buf[:min(int64(len(buf)), n)])
			n -= int64(m)
		}
		done <- err
	}
}

// BenchmarkSendBlock streams a 64 MiB block over loopback TCP with SendBlock
// (CRC32C computed, or stored and passed in Checksums) until the reader has
// every byte, and in the same run times a plain conn.Write of the same 64
// MiB: MB/s is SendBlock's, baseline-MB/s the plain write's, and ratio
// SendBlock's throughput over the baseline's.
//
//	go test -run '^$' -bench BenchmarkSendBlock -benchtime 20x ./hdfsbridge/internal/transfer/
func BenchmarkSendBlock(b *testing.B) {
	const size = 64 << 20
	block := make([]byte, size)
	for i := range block {
		block[i] = byte(i*7 + i>>9)
	}
	sums := AppendChecksums(nil, block)
	for _, bc := range []struct {
		name string
		opts SendOptions
	}{
		{"crc=computed/size=64MiB", SendOptions{}},
		{"crc=stored/size=64MiB", SendOptions{Checksums: sums}},
		{"crc=stored/packet=1MiB/size=64MiB", SendOptions{Checksums: sums, PacketSize: 1 << 20}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var wire countingWriter
			if err := SendBlock(b.Context(), &wire, block, 0, size, bc.opts); err != nil {
				b.Fatal(err)
			}
			client, server := tcpPair(b)
			reqs, done := make(chan int64), make(chan error)
			go drain(client, reqs, done)
			defer close(reqs)

			var sendTime, writeTime time.Duration
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				reqs <- wire.n
				if err := SendBlock(b.Context(), server, block, 0, size, bc.opts); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				sendTime += time.Since(t0)

				b.StopTimer()
				t0 = time.Now()
				reqs <- size
				if _, err := server.Write(block); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil && err != io.EOF {
					b.Fatal(err)
				}
				writeTime += time.Since(t0)
				b.StartTimer()
			}
			mb := float64(b.N) * size / 1e6
			b.ReportMetric(mb/writeTime.Seconds(), "baseline-MB/s")
			b.ReportMetric(writeTime.Seconds()/sendTime.Seconds(), "ratio")
			b.ReportMetric(float64(wire.n-size)/size*100, "overhead-%")
		})
	}
}
