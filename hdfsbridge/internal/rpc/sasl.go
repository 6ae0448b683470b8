package rpc

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// saslPacket serves a callId -33 packet. The server is SIMPLE-only, as a
// Hadoop server without security: NEGOTIATE is answered with
// RpcSaslProto{state: SUCCESS}, which the client reads as "switch to
// SIMPLE" (Server.java buildNegotiateResponse); INITIATE with method SIMPLE
// switches without a reply; any other mechanism is refused with a FATAL
// AccessControlException (FATAL_UNAUTHORIZED) naming it.
func (c *Conn) saslPacket(hdr *hadooppb.RpcRequestHeaderProto, body []byte) error {
	if !c.sasl {
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classRpcServerException,
			"SASL protocol not requested by client",
			fmt.Errorf("%w: SASL packet on a connection whose preamble chose no authentication", ErrOutOfOrder)))
	}
	msg := new(hadooppb.RpcSaslProto)
	if err := proto.Unmarshal(body, msg); err != nil {
		return c.failCall(hdr, fatal(fatalDeserializing, classRpcServerException,
			"Error decoding RpcSaslProto: "+err.Error(),
			fmt.Errorf("%w: RpcSaslProto: %w", ErrBadRequest, err)))
	}
	switch state := msg.GetState(); state {
	case saslInitiate:
		if len(msg.GetAuths()) != 1 {
			return c.failCall(hdr, fatal(fatalUnauthorized, classSaslException,
				"Client mechanism is malformed",
				fmt.Errorf("%w: SASL INITIATE with %d auths", ErrUnsupportedAuth, len(msg.GetAuths()))))
		}
		auth := msg.GetAuths()[0]
		if method := auth.GetMethod(); method != saslMethodSimple {
			return c.failCall(hdr, fatal(fatalUnauthorized, classAccessControl,
				fmt.Sprintf("%s authentication (SASL mechanism %s) is not enabled.  Available:[%s]; %s",
					method, auth.GetMechanism(), saslMethodSimple, bridgeOnlySimpleMessage),
				fmt.Errorf("%w: SASL method %s, mechanism %s: only SIMPLE is supported",
					ErrUnsupportedAuth, method, auth.GetMechanism())))
		}
		if c.saslDone {
			return c.failCall(hdr, saslComplete())
		}
		c.saslDone, c.state = true, stateContext
		c.lg.Debug("sasl", "state", state, "method", saslMethodSimple)
		return nil
	case saslNegotiate:
		if c.saslDone {
			return c.failCall(hdr, saslComplete())
		}
		frame, err := encodeResponse(replyHeader(hdr, statusSuccess),
			&hadooppb.RpcSaslProto{State: saslSuccess.Enum()})
		if err != nil {
			return err
		}
		if err := c.writeFrame(frame); err != nil {
			return err
		}
		c.saslDone, c.state = true, stateContext
		c.lg.Debug("sasl", "state", state, "reply", saslSuccess)
		return nil
	case saslWrap:
		return c.failCall(hdr, fatal(fatalInvalidRPCHeader, classSaslException,
			"Server is not wrapping data",
			fmt.Errorf("%w: SASL WRAP without a negotiated QOP", ErrUnsupportedAuth)))
	default:
		return c.failCall(hdr, fatal(fatalUnauthorized, classSaslException,
			"Client sent unsupported state "+state.String(),
			fmt.Errorf("%w: SASL state %v", ErrUnsupportedAuth, state)))
	}
}

func saslComplete() *failure {
	return fatal(fatalInvalidRPCHeader, classSaslException, "Negotiation is already complete",
		fmt.Errorf("%w: SASL packet after negotiation completed", ErrOutOfOrder))
}
