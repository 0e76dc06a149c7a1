package wire

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

// TLSMode says whether connections may, or must, be encrypted.
type TLSMode uint8

// TLS modes.
const (
	// TLSDisable answers SSLRequest with 'N': every connection is in the
	// clear.
	TLSDisable TLSMode = iota
	// TLSAllow answers SSLRequest with 'S' and upgrades the connection;
	// a client that does not ask for TLS goes on in the clear.
	TLSAllow
	// TLSRequire is TLSAllow, except that a StartupMessage on a connection
	// that did not negotiate TLS gets a FATAL 28000.
	TLSRequire
)

// String returns the mode's flag spelling.
func (m TLSMode) String() string {
	switch m {
	case TLSAllow:
		return "allow"
	case TLSRequire:
		return "require"
	}
	return "disable"
}

// ParseTLSMode reads disable, allow or require.
func ParseTLSMode(s string) (TLSMode, error) {
	switch strings.ToLower(s) {
	case "disable":
		return TLSDisable, nil
	case "allow":
		return TLSAllow, nil
	case "require":
		return TLSRequire, nil
	}
	return 0, fmt.Errorf("wire: unknown TLS mode %q (want disable, allow or require)", s)
}

// alpnPostgres is the ALPN protocol PostgreSQL 17 clients name; a direct
// TLS connection (sslnegotiation=direct) must negotiate it.
const alpnPostgres = "postgresql"

// prepareTLS checks the TLS settings and derives the per-server state:
// a clone of the configuration that announces ALPN "postgresql" and
// refuses TLS below 1.2 (PostgreSQL's default ssl_min_protocol_version),
// and the tls-server-end-point channel binding data of its certificate
// (nil when the certificate is chosen per connection, which leaves
// SCRAM-SHA-256-PLUS unoffered).
func (s *Server) prepareTLS() error {
	if s.tlsMode == TLSDisable {
		s.tlsCfg = nil
		return nil
	}
	if s.tlsCfg == nil {
		return fmt.Errorf("wire: TLS mode %s needs a TLS configuration", s.tlsMode)
	}
	cfg := s.tlsCfg.Clone()
	cfg.NextProtos = []string{alpnPostgres}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return errors.New("wire: TLS configuration has no certificate")
	}
	s.tlsCfg = cfg
	s.tlsEndpoint = nil
	if len(cfg.Certificates) == 1 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil && len(cfg.Certificates[0].Certificate) > 0 {
		h, err := endpointHash(cfg.Certificates[0].Certificate[0])
		if err != nil {
			return fmt.Errorf("wire: TLS certificate: %w", err)
		}
		s.tlsEndpoint = h
	}
	return nil
}

// endpointHash is the tls-server-end-point channel binding data of a DER
// certificate (RFC 5929 section 4.1): its hash with the hash function of
// its signature algorithm, SHA-256 in place of MD5 and SHA-1.
func endpointHash(der []byte) ([]byte, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	var h crypto.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = crypto.SHA512
	case x509.PureEd25519:
		// RFC 5929 leaves it undefined for a signature without a separate
		// hash; libpq refuses it, so binding is not offered.
		return nil, nil
	default:
		h = crypto.SHA256
	}
	d := h.New()
	d.Write(der)
	return d.Sum(nil), nil
}

// channelBinding returns the connection's tls-server-end-point binding
// for SCRAM-SHA-256-PLUS, when it is encrypted and the data is known.
func (c *conn) channelBinding() (scram.ChannelBinding, bool) {
	if !c.encrypted || c.srv.tlsEndpoint == nil {
		return scram.ChannelBinding{}, false
	}
	return scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: c.srv.tlsEndpoint}, true
}

// maxStartupPacket is PostgreSQL's MAX_STARTUP_PACKET_LENGTH.
const maxStartupPacket = 10000

// tlsRecordHandshake is the first byte of a TLS ClientHello record; no
// startup packet begins with it (its length would exceed
// maxStartupPacket).
const tlsRecordHandshake = 0x16

// errDirectTLS reports a connection that opened with a TLS ClientHello
// (PostgreSQL 17's sslnegotiation=direct) instead of a startup packet.
var errDirectTLS = errors.New("wire: direct TLS handshake")

// readStartupPacket reads one startup packet (StartupMessage,
// SSLRequest, GSSEncRequest, CancelRequest) from r, reading exactly its
// bytes and nothing beyond: bytes a client sends after an SSLRequest
// belong to the TLS handshake, and plaintext sent ahead of it must never
// be taken as sent over TLS (CVE-2021-23214). A connection opening with a
// TLS record returns errDirectTLS and the header bytes read.
func readStartupPacket(r io.Reader) (pgproto3.FrontendMessage, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, err
	}
	if hdr[0] == tlsRecordHandshake {
		return nil, hdr[:], errDirectTLS
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupPacket {
		return nil, nil, fmt.Errorf("invalid length of startup packet: %d", n)
	}
	buf := make([]byte, n)
	copy(buf, hdr[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	// pgproto3 decodes the packet; its Backend reads only these bytes.
	msg, err := pgproto3.NewBackend(bytes.NewReader(buf), io.Discard).ReceiveStartupMessage()
	return msg, nil, err
}

// prefixConn is a net.Conn whose first reads return prefix: the bytes of
// a TLS ClientHello read while looking for a startup packet.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// upgradeTLS runs the server side of a TLS handshake on raw and makes
// the connection use it. direct requires ALPN "postgresql", as
// PostgreSQL 17 does for a connection that starts with TLS.
func (c *conn) upgradeTLS(raw net.Conn, direct bool) error {
	tc := tls.Server(raw, c.srv.tlsCfg)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return fmt.Errorf("wire: TLS handshake: %w", err)
	}
	if direct && tc.ConnectionState().NegotiatedProtocol != alpnPostgres {
		tc.Close()
		return errors.New("wire: direct TLS connection without ALPN protocol \"postgresql\"")
	}
	c.nc = tc
	c.encrypted = true
	return nil
}
