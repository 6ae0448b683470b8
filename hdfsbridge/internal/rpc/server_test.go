package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

func TestOptionsValidate(t *testing.T) {
	ok := Method{
		Name:       "getFileInfo",
		NewRequest: func() proto.Message { return new(pb.GetFileInfoRequestProto) },
		Call:       func(context.Context, *Conn, proto.Message) (proto.Message, error) { return nil, nil },
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []string // substrings, one per problem
	}{
		{name: "minimal", opts: Options{Methods: []Method{ok}}},
		{name: "defaults plus a method", opts: func() Options { o := DefaultOptions(); o.Methods = []Method{ok}; return o }()},
		{name: "no methods", opts: DefaultOptions(), want: []string{"no methods"}},
		{
			name: "everything wrong",
			opts: Options{
				Methods:       []Method{ok, ok, {}},
				MaxFrameBytes: -1,
				IdleTimeout:   -time.Second,
			},
			want: []string{`method "getFileInfo" listed twice`, "method 2 has no name", `method "" has no NewRequest`, `method "" has no Call`, "max frame bytes -1", "negative idle timeout"},
		},
		{name: "frame above int32", opts: Options{Methods: []Method{ok}, MaxFrameBytes: 1 << 31}, want: []string{"max frame bytes 2147483648"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			_, nerr := New(tc.opts)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				require.NoError(t, nerr)
				return
			}
			require.ErrorIs(t, err, ErrInvalidOptions)
			require.ErrorIs(t, nerr, ErrInvalidOptions)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), len(tc.want), "one error per problem: %v", err)
		})
	}
}

func TestDefaults(t *testing.T) {
	d := DefaultOptions()
	require.Equal(t, ClientProtocol, d.Protocol)
	require.Equal(t, 64<<20, d.MaxFrameBytes)
	require.Equal(t, 10*time.Minute, d.IdleTimeout)
	o := Options{}.withDefaults()
	require.Equal(t, d.Protocol, o.Protocol)
	require.Equal(t, d.MaxFrameBytes, o.MaxFrameBytes)
	require.Equal(t, d.IdleTimeout, o.IdleTimeout)
	require.NotNil(t, o.Logger)
}

type javaErr struct{ class, msg string }

func (e *javaErr) Error() string     { return e.msg }
func (e *javaErr) JavaClass() string { return e.class }

// TestCallFailure is the table of Go errors from Method.Call to ERROR replies.
func TestCallFailure(t *testing.T) {
	fnf := &javaErr{class: "java.io.FileNotFoundException", msg: "File does not exist: /a"}
	for _, tc := range []struct {
		name      string
		err       error
		class     string
		msg       string
		errorCode pb.RpcResponseHeaderProto_RpcErrorCodeProto
	}{
		{"plain", errors.New("disk on fire"), "java.io.IOException", "disk on fire", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
		{"java class", fnf, "java.io.FileNotFoundException", "File does not exist: /a", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
		{"wrapped java class", fmt.Errorf("open: %w", fnf), "java.io.FileNotFoundException", "open: File does not exist: /a", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
		{"empty class", &javaErr{msg: "x"}, "java.io.IOException", "x", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
		{"standby", &javaErr{class: "org.apache.hadoop.ipc.StandbyException", msg: "Operation category READ is not supported in state standby"}, "org.apache.hadoop.ipc.StandbyException", "Operation category READ is not supported in state standby", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
		{"os error", &fs.PathError{Op: "open", Path: "/a", Err: os.ErrNotExist}, "java.io.IOException", "open /a: file does not exist", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
		{"panic", &handlerPanic{method: "m", value: "boom"}, "java.lang.RuntimeException", "rpc: method handler failed: m panicked: boom", pb.RpcResponseHeaderProto_ERROR_APPLICATION},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := callFailure(tc.err)
			require.False(t, f.fatal)
			require.Equal(t, tc.class, f.class)
			require.Equal(t, tc.msg, f.msg)
			require.Equal(t, tc.errorCode, f.code)
			require.Equal(t, tc.err, f.err)
			if tc.name == "panic" {
				require.ErrorIs(t, f.err, ErrHandler)
			}
		})
	}
}

// TestHandlerFailures: a panic, a nil response and a response missing a
// required field each fail only their call.
func TestHandlerFailures(t *testing.T) {
	entered := make(chan struct{}, 1)
	m := func(name string, call func() (proto.Message, error)) Method {
		return Method{
			Name:       name,
			NewRequest: func() proto.Message { return new(pb.GetFileInfoRequestProto) },
			Call: func(context.Context, *Conn, proto.Message) (proto.Message, error) {
				select {
				case entered <- struct{}{}:
				default:
				}
				return call()
			},
		}
	}
	methods := []Method{
		m("panics", func() (proto.Message, error) { panic("boom") }),
		m("nothing", func() (proto.Message, error) { return nil, nil }),
		m("partial", func() (proto.Message, error) { return &pb.DeleteResponseProto{}, nil }), // result is required
		m("ok", func() (proto.Message, error) { return &pb.DeleteResponseProto{Result: proto.Bool(true)}, nil }),
	}
	_, _, addr := startServer(t, Options{Methods: methods})
	w := dialWire(t, addr)
	w.handshake()
	w.write(callPacket(t, 1, "panics", getFileInfo("/x")))
	h := w.expectError(1, pb.RpcResponseHeaderProto_ERROR_APPLICATION, "java.lang.RuntimeException")
	require.Contains(t, h.GetErrorMsg(), "boom")
	w.write(callPacket(t, 2, "nothing", getFileInfo("/x")))
	w.expectError(2, pb.RpcResponseHeaderProto_ERROR_SERIALIZING_RESPONSE, "java.io.IOException")
	w.write(callPacket(t, 3, "partial", getFileInfo("/x")))
	h = w.expectError(3, pb.RpcResponseHeaderProto_ERROR_SERIALIZING_RESPONSE, "java.io.IOException")
	require.Contains(t, h.GetErrorMsg(), "result")
	var resp pb.DeleteResponseProto
	w.call(4, "ok", getFileInfo("/x"), &resp)
	require.True(t, resp.GetResult())
}

// TestCloseCancelsCalls: Close cancels a call in progress, closes its
// connection and waits for it.
func TestCloseCancelsCalls(t *testing.T) {
	entered := make(chan struct{})
	var sawCancel sync.WaitGroup
	sawCancel.Add(1)
	blocking := Method{
		Name:       "block",
		NewRequest: func() proto.Message { return new(pb.GetFileInfoRequestProto) },
		Call: func(ctx context.Context, c *Conn, _ proto.Message) (proto.Message, error) {
			close(entered)
			<-ctx.Done()
			sawCancel.Done()
			return nil, ctx.Err()
		},
	}
	s, err := New(Options{Methods: []Method{blocking}})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()

	w := dialWire(t, ln.Addr().String())
	w.handshake()
	w.write(callPacket(t, 0, "block", getFileInfo("/x")))
	<-entered
	require.NoError(t, s.Close())
	sawCancel.Wait()
	require.ErrorIs(t, <-done, ErrServerClosed)
	w.expectClosed()

	// Closed for good.
	require.NoError(t, s.Close())
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, s.Serve(ln2), ErrServerClosed)
	_, err = ln2.Accept()
	require.ErrorIs(t, err, net.ErrClosed, "Serve closes its listener")
	c1, c2 := net.Pipe()
	s.ServeConn(c1)
	_, err = c2.Read(make([]byte, 1))
	require.Error(t, err, "ServeConn on a closed server closes the conn")
}

// TestServeConn serves one side of an in-memory pipe.
func TestServeConn(t *testing.T) {
	nn := new(namenode)
	s, err := New(Options{Methods: nn.methods()})
	require.NoError(t, err)
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(server)
	}()
	w := &wireClient{t: t, conn: client, br: bufio.NewReader(client)}
	require.NoError(t, client.SetDeadline(time.Now().Add(10*time.Second)))
	// A pipe has no buffer: write while the server reads.
	var out []byte
	out = append(out, preamble(0)...)
	out = append(out, contextPacket(t, "alice", ClientProtocol)...)
	out = append(out, callPacket(t, 9, "getFileInfo", getFileInfo("/x"))...)
	writeErr := make(chan error, 1)
	go func() { _, err := client.Write(out); writeErr <- err }()
	h, mb := w.readReply()
	require.NoError(t, <-writeErr)
	require.Equal(t, uint32(9), h.GetCallId())
	var resp pb.GetFileInfoResponseProto
	require.NoError(t, proto.Unmarshal(mb, &resp))
	require.NotNil(t, resp.GetFs())
	nn.mu.Lock()
	require.Equal(t, []string{"alice"}, nn.mu.users)
	require.Equal(t, "pipe", nn.mu.remotes[0].Network())
	nn.mu.Unlock()
	require.NoError(t, client.Close())
	<-done
	require.NoError(t, s.Close())
}

// TestConcurrentConnections runs several connections at once (for the race
// detector) and checks each sees only its own replies and user.
func TestConcurrentConnections(t *testing.T) {
	_, nn, addr := startServer(t, Options{})
	const conns, calls = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(conn)
			user := fmt.Sprintf("user%d", i)
			if _, err := conn.Write(append(preamble(0), contextPacket(t, user, ClientProtocol)...)); err != nil {
				errs <- err
				return
			}
			for id := range int32(calls) {
				if _, err := conn.Write(callPacket(t, id, "getFileInfo", getFileInfo("/x"))); err != nil {
					errs <- err
					return
				}
				hdr, _, err := readTestReply(br)
				if err != nil {
					errs <- err
					return
				}
				if hdr.GetCallId() != uint32(id) || hdr.GetStatus() != pb.RpcResponseHeaderProto_SUCCESS {
					errs <- fmt.Errorf("conn %d call %d: got %v", i, id, hdr)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	require.Len(t, nn.mu.users, conns*calls)
	count := map[string]int{}
	for _, u := range nn.mu.users {
		count[u]++
	}
	for i := range conns {
		require.Equal(t, calls, count[fmt.Sprintf("user%d", i)])
	}
}

// flakyListener fails its first Accepts, as a listener out of descriptors.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, errors.New("accept: too many open files")
	}
	return l.Listener.Accept()
}

// TestServeAcceptErrors: transient accept errors are retried; a listener
// closed behind the server's back ends Serve with that error.
func TestServeAcceptErrors(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &flakyListener{Listener: inner}
	ln.fails.Store(3)
	s, err := New(Options{Methods: new(namenode).methods()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()

	w := dialWire(t, inner.Addr().String())
	w.handshake()
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
	require.Less(t, ln.fails.Load(), int32(0), "every failure was retried")

	require.NoError(t, inner.Close()) // not through the server
	err = <-done
	require.ErrorIs(t, err, net.ErrClosed)
	require.NotErrorIs(t, err, ErrServerClosed)
	require.NoError(t, s.Close())
	w.expectClosed()
}

// TestLogging: an injected logger sees the connection's life with constant
// messages and key/value attributes.
func TestLogging(t *testing.T) {
	var buf testbin.SyncBuffer
	lg := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, _, addr := startServer(t, Options{Logger: lg})
	w := dialWire(t, addr)
	w.handshake()
	var resp pb.GetFileInfoResponseProto
	w.call(0, "getFileInfo", getFileInfo("/x"), &resp)
	w.write(callPacket(t, 1, "nosuch", getFileInfo("/x")))
	w.expectError(1, pb.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD, "org.apache.hadoop.ipc.RpcNoSuchMethodException")
	require.NoError(t, w.conn.Close())
	require.NoError(t, s.Close())
	out := buf.String()
	for _, want := range []string{
		`msg=serving`, `msg="connection opened"`, `msg="connection context"`, `user=alice`,
		`msg=call`, `method=getFileInfo`, `msg="error reply"`, `class=org.apache.hadoop.ipc.RpcNoSuchMethodException`,
		`msg="connection closed"`, `msg=closed`,
	} {
		require.Contains(t, out, want)
	}
}
