// gopeer: a reign peer written from docs/PROTOCOL.md, with Go's crypto/tls.
// Dials a node (or listens, with -listen), optionally sends HELLO/ACCEPT, and prints
// every handshake frame it reads with a timestamp, and how the connection ended
// (io.EOF = close_notify received; unexpected EOF = closed without close_notify).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

var (
	addr    = flag.String("addr", "127.0.0.1:7102", "node to dial")
	listen  = flag.String("listen", "", "act as acceptor on this address instead of dialing")
	cert    = flag.String("cert", "", "cert pem")
	key     = flag.String("key", "", "key pem")
	caf     = flag.String("ca", "/work/interop/pki/ca.pem", "ca pem")
	alpn    = flag.String("alpn", "reign/1", "comma list ('' = none)")
	claim   = flag.String("hello", "", "send HELLO claiming this node id ('' = send nothing)")
	cluster = flag.String("cluster", "demo", "cluster name in HELLO")
	version = flag.Int("version", 1, "HELLO version")
	accept  = flag.Bool("accept", false, "send ACCEPT after reading the acceptor's HELLO")
	raw     = flag.String("raw", "", "hex bytes to send after TLS instead of HELLO")
	curves  = flag.String("curves", "", "comma list: x25519,p256,p384,p521")
	maxv    = flag.String("maxver", "1.3", "1.2 or 1.3")
	minv    = flag.String("minver", "1.2", "1.2 or 1.3")
	wait    = flag.Duration("wait", 6*time.Second, "how long to read")
	noverif = flag.Bool("noverify", false, "do not verify the peer")
	closeAfter = flag.Bool("close", false, "send close_notify after ACCEPT and read")
	hb      = flag.Bool("hb", false, "send HEARTBEAT every second after ACCEPT")
	after   = flag.String("after", "", "hex bytes to send 1s after ACCEPT")
	quiet   = flag.Bool("quiet", false, "do not print heartbeats")
	wrongKey = flag.String("signkey", "", "sign CertificateVerify with this (non-matching) key file")
)

var t0 = time.Now()

// spy records the TLS record headers read from the socket, to tell a close_notify
// (an encrypted alert record: 19 bytes of ciphertext in TLS 1.3) from a bare TCP EOF,
// since Go's crypto/tls reports a TCP EOF at a record boundary as io.EOF too.
type spy struct {
	net.Conn
	buf     []byte
	lastLen int
	lastCT  byte
	sawEOF  bool
}

func (s *spy) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.buf = append(s.buf, p[:n]...)
	for len(s.buf) >= 5 {
		l := int(s.buf[3])<<8 | int(s.buf[4])
		if len(s.buf) < 5+l {
			break
		}
		s.lastCT, s.lastLen = s.buf[0], l
		s.buf = s.buf[5+l:]
	}
	if err == io.EOF {
		s.sawEOF = true
	}
	return n, err
}

var sp *spy

func logf(f string, a ...interface{}) {
	fmt.Printf("[%6.3fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(f, a...))
}

func ver(s string) uint16 {
	if s == "1.2" {
		return tls.VersionTLS12
	}
	return tls.VersionTLS13
}

func frame(kind byte, p []byte) []byte {
	b := make([]byte, 5+len(p))
	binary.BigEndian.PutUint32(b, uint32(1+len(p)))
	b[4] = kind
	copy(b[5:], p)
	return b
}

func hello() []byte {
	p := make([]byte, 0, 64)
	p = binary.BigEndian.AppendUint16(p, uint16(*version))
	p = binary.BigEndian.AppendUint64(p, 0x0102030405060708)
	p = append(p, byte(len(*cluster)))
	p = append(p, *cluster...)
	p = append(p, byte(len(*claim)))
	p = append(p, *claim...)
	return frame(1, p)
}

func describe(kind byte, p []byte) string {
	switch kind {
	case 1:
		if len(p) < 11 {
			return fmt.Sprintf("HELLO (short) % x", p)
		}
		v := binary.BigEndian.Uint16(p)
		inc := binary.BigEndian.Uint64(p[2:])
		cl := int(p[10])
		c := string(p[11 : 11+cl])
		nl := int(p[11+cl])
		n := string(p[12+cl : 12+cl+nl])
		return fmt.Sprintf("HELLO version=%d incarnation=%016x cluster=%q node=%q", v, inc, c, n)
	case 2:
		code := binary.BigEndian.Uint16(p)
		cnt := int(p[2])
		off := 3
		var fs []string
		for i := 0; i < cnt && off+2 <= len(p); i++ {
			l := int(binary.BigEndian.Uint16(p[off:]))
			fs = append(fs, fmt.Sprintf("%q", string(p[off+2:off+2+l])))
			off += 2 + l
		}
		return fmt.Sprintf("REFUSE code=%d fields=[%s]", code, strings.Join(fs, ", "))
	case 3:
		return "ACCEPT"
	case 0x31:
		return fmt.Sprintf("GOODBYE reason=%d", p[0])
	case 0x30:
		return "HEARTBEAT"
	case 0x5f:
		return "SYNCED"
	}
	return fmt.Sprintf("kind 0x%02x payload % x", kind, p)
}

func endErr(err error) string {
	if sp != nil && sp.sawEOF && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
		if sp.lastCT == 23 && sp.lastLen == 19 {
			return fmt.Sprintf("TCP EOF after an encrypted alert record (close_notify) [go: %v]", err)
		}
		return fmt.Sprintf("TCP EOF WITHOUT close_notify (last record type %d len %d) [go: %v]", sp.lastCT, sp.lastLen, err)
	}
	switch {
	case err == io.EOF:
		return "io.EOF (close_notify received)"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF (closed WITHOUT close_notify)"
	}
	return "error: " + err.Error()
}

func main() {
	flag.Parse()
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(*caf)
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ClientCAs: pool, MinVersion: ver(*minv), MaxVersion: ver(*maxv),
		InsecureSkipVerify: *noverif, SessionTicketsDisabled: true}
	if *cert != "" {
		kp, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			panic(err)
		}
		if *wrongKey != "" {
			other, err := tls.LoadX509KeyPair(*cert, *cert) // placeholder, replaced below
			_ = other
			_ = err
			kp2, err := tls.LoadX509KeyPair(os.Getenv("SIGNCERT"), *wrongKey)
			if err != nil {
				panic(err)
			}
			kp.PrivateKey = kp2.PrivateKey
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	if *curves != "" {
		for _, c := range strings.Split(*curves, ",") {
			cfg.CurvePreferences = append(cfg.CurvePreferences, map[string]tls.CurveID{"x25519": tls.X25519, "p256": tls.CurveP256, "p384": tls.CurveP384, "p521": tls.CurveP521}[c])
		}
	}
	var c *tls.Conn
	if *listen != "" {
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			logf("ClientHello from %s: SNI=%q ALPN=%q versions=%x curves=%v", h.Conn.RemoteAddr(), h.ServerName, h.SupportedProtos, h.SupportedVersions, h.SupportedCurves)
			return nil, nil
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			panic(err)
		}
		logf("listening on %s", *listen)
		tc, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		sp = &spy{Conn: tc}
		c = tls.Server(sp, cfg)
	} else {
		cfg.ServerName = "b"
		if *noverif {
			cfg.ServerName = ""
		}
		tc, err := net.Dial("tcp", *addr)
		if err != nil {
			panic(err)
		}
		sp = &spy{Conn: tc}
		c = tls.Client(sp, cfg)
	}
	c.SetDeadline(time.Now().Add(*wait))
	if err := c.Handshake(); err != nil {
		logf("TLS handshake failed: %s", endErr(err))
		return
	}
	st := c.ConnectionState()
	var peer string
	if len(st.PeerCertificates) > 0 {
		peer = st.PeerCertificates[0].Subject.CommonName
	}
	logf("TLS up: version=%x cipher=%x alpn=%q peerCN=%q resumed=%v", st.Version, st.CipherSuite, st.NegotiatedProtocol, peer, st.DidResume)
	if *raw != "" {
		var b []byte
		fmt.Sscanf(*raw, "%x", &b)
		c.Write(b)
		logf("sent raw % x", b)
	} else if *claim != "" {
		c.Write(hello())
		logf("sent HELLO claiming %q", *claim)
	}
	hdr := make([]byte, 4)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			logf("read ended: %s", endErr(err))
			return
		}
		n := binary.BigEndian.Uint32(hdr)
		if n == 0 || n > 1<<24 {
			logf("bad length %d", n)
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			logf("read body ended: %s", endErr(err))
			return
		}
		if !(*quiet && body[0] == 0x30) {
			logf("got %s", describe(body[0], body[1:]))
		}
		if body[0] == 1 && *accept {
			c.Write(frame(3, nil))
			logf("sent ACCEPT")
			if *hb {
				go func() {
					for i := uint64(1); ; i++ {
						c.Write(frame(0x30, binary.BigEndian.AppendUint64(nil, i)))
						time.Sleep(time.Second)
					}
				}()
			}
			if *after != "" {
				go func() {
					time.Sleep(time.Second)
					var b []byte
					fmt.Sscanf(*after, "%x", &b)
					c.Write(b)
					logf("sent after-ACCEPT bytes % x", b)
				}()
			}
			if *closeAfter {
				time.Sleep(500 * time.Millisecond)
				c.CloseWrite()
				logf("sent close_notify")
			}
		}
		if body[0] == 0x30 {
			// heartbeat: keep reading
		}
	}
}
