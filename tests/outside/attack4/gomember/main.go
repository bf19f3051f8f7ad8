// gomember: a reign link member in Go (crypto/tls), written from docs/PROTOCOL.md only,
// for attacking CERT_UPDATE (frame 0x60). One run = one connection = one case.
//
// It dials the victim, does HELLO/ACCEPT, waits for the victim's SYNCED, sends SYNCED
// (unless -presynced), heartbeats every 500 ms, then sends the CERT_UPDATE(s) the flags
// describe, and reports how the link ended: GOODBYE reason, close_notify or not, or
// "ALIVE" (a LOOKUP of "echo" answered) after -hold.
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	addr    = flag.String("addr", "127.0.0.1:7402", "victim")
	me      = flag.String("me", "a", "node id claimed (must be the TLS cert CN)")
	certF   = flag.String("cert", "", "TLS cert pem")
	keyF    = flag.String("key", "", "TLS key pem")
	caF     = flag.String("ca", "", "CA bundle for verifying the victim")
	cluster = flag.String("cluster", "demo", "")

	upChain  = flag.String("upcert", "", "PEM file: chain for CERT_UPDATE (leaf first); '' = no update")
	upKey    = flag.String("upkey", "", "PEM key to sign the update with")
	scheme   = flag.Int("scheme", 0x0403, "signature scheme code point")
	label    = flag.String("label", "EXPORTER-reign-certificate-update", "exporter label")
	ctxHex   = flag.String("context", "", "exporter context hex ('' = none)")
	ctxEmpty = flag.Bool("ctxempty", false, "pass an empty non-nil context")
	prefix   = flag.String("prefix", "reign certificate update\x00", "signed prefix")
	expHex   = flag.String("exporter", "", "use this exporter value (hex) instead of this connection's")
	saveExp  = flag.String("saveexp", "", "write this connection's exporter (hex) to this file")
	sigHex   = flag.String("sig", "", "use these signature bytes (hex) instead of signing")
	sigLen   = flag.Int("siglen", -1, "use a signature of this many random bytes")
	flipSig  = flag.Bool("flipsig", false, "flip a bit in the signature")
	count    = flag.Int("count", -1, "override chain count byte")
	repeat   = flag.Int("repeat", 1, "repeat the leaf this many times in the chain (with count)")
	lenLie   = flag.Int("lenlie", 0, "add this to the first certificate's length field")
	sigLie   = flag.Int("siglie", 0, "add this to the signature length field")
	trunc    = flag.Int("trunc", -1, "send only this many payload bytes (frame length adjusted)")
	trailing = flag.Int("trailing", 0, "append this many zero bytes to the payload")
	zeroCert = flag.Bool("zerocert", false, "append a zero-length certificate entry (count+1)")
	flen     = flag.Int("flen", -1, "frame length field override (payload sent as is)")

	n        = flag.Int("n", 1, "number of updates to send")
	interval = flag.Duration("interval", 0, "time between updates")
	presync  = flag.Bool("presynced", false, "send the update before SYNCED")
	delay    = flag.Duration("delay", 300*time.Millisecond, "wait after SYNCED before the first update")
	hold     = flag.Duration("hold", 3*time.Second, "after the last update, wait this long then probe")
	stayFor  = flag.Duration("stay", 0, "after probing alive, keep the link (heartbeats) this long more")
	quiet    = flag.Bool("q", false, "less output")
	verifyIn = flag.Bool("verifyin", true, "verify CERT_UPDATEs received from the victim")
)

var t0 = time.Now()

func logf(f string, a ...interface{}) {
	fmt.Printf("[%7.3fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(f, a...))
}

type spy struct {
	net.Conn
	mu      sync.Mutex
	buf     []byte
	lastLen int
	lastCT  byte
	sawEOF  bool
}

func (s *spy) Read(p []byte) (int, error) {
	k, err := s.Conn.Read(p)
	s.mu.Lock()
	s.buf = append(s.buf, p[:k]...)
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
	s.mu.Unlock()
	return k, err
}

func frame(kind byte, p []byte) []byte {
	b := make([]byte, 5+len(p))
	binary.BigEndian.PutUint32(b, uint32(1+len(p)))
	b[4] = kind
	copy(b[5:], p)
	return b
}

func loadKey(path string) crypto.Signer {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			panic("no key in " + path)
		}
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			return k.(crypto.Signer)
		}
		if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
			return k
		}
		if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
			return k
		}
	}
}

func loadChain(path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 { // raw DER?
		raw, _ := os.ReadFile(path)
		out = append(out, raw)
	}
	return out
}

func sign(k crypto.Signer, sch int, msg []byte) []byte {
	switch sch {
	case 0x0403, 0x0503, 0x0603:
		var h []byte
		switch sch {
		case 0x0403:
			x := sha256.Sum256(msg)
			h = x[:]
		case 0x0503:
			x := sha512.Sum384(msg)
			h = x[:]
		default:
			x := sha512.Sum512(msg)
			h = x[:]
		}
		s, err := ecdsa.SignASN1(rand.Reader, k.(*ecdsa.PrivateKey), h)
		if err != nil {
			panic(err)
		}
		return s
	case 0x0807:
		if ek, ok := k.(ed25519.PrivateKey); ok {
			return ed25519.Sign(ek, msg)
		}
		x := sha256.Sum256(msg) // wrong key type for the scheme: an ECDSA signature
		s, _ := ecdsa.SignASN1(rand.Reader, k.(*ecdsa.PrivateKey), x[:])
		return s
	case 0x0401:
		x := sha256.Sum256(msg)
		s, _ := rsa.SignPKCS1v15(rand.Reader, k.(*rsa.PrivateKey), crypto.SHA256, x[:])
		return s
	case 0x0203:
		x := sha1.Sum(msg)
		s, _ := ecdsa.SignASN1(rand.Reader, k.(*ecdsa.PrivateKey), x[:])
		return s
	case 0x0804:
		x := sha256.Sum256(msg)
		s, err := rsa.SignPSS(rand.Reader, k.(*rsa.PrivateKey), crypto.SHA256, x[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			panic(err)
		}
		return s
	default:
		// unknown scheme: sign as ecdsa p256 anyway
		x := sha256.Sum256(msg)
		if ek, ok := k.(*ecdsa.PrivateKey); ok {
			s, _ := ecdsa.SignASN1(rand.Reader, ek, x[:])
			return s
		}
		return make([]byte, 64)
	}
}

func verify(pub crypto.PublicKey, sch uint16, msg, sig []byte) bool {
	switch sch {
	case 0x0403:
		x := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), x[:], sig)
	case 0x0503:
		x := sha512.Sum384(msg)
		return ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), x[:], sig)
	case 0x0807:
		return ed25519.Verify(pub.(ed25519.PublicKey), msg, sig)
	}
	return false
}

var (
	c       *tls.Conn
	sp      *spy
	wmu     sync.Mutex
	ended   = make(chan string, 1)
	synced  = make(chan struct{})
	lookups = make(chan uint64, 16)
	expo    []byte
)

func write(b []byte) error {
	wmu.Lock()
	defer wmu.Unlock()
	_, err := c.Write(b)
	return err
}

func endErr(err error) string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.sawEOF && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
		if sp.lastCT == 23 && sp.lastLen == 19 {
			return "EOF after close_notify"
		}
		return fmt.Sprintf("EOF WITHOUT close_notify (last record len %d)", sp.lastLen)
	}
	if err == io.EOF {
		return "EOF (close_notify)"
	}
	return "error: " + err.Error()
}

func reader() {
	hdr := make([]byte, 4)
	goodbye := -1
	syncedOnce := false
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			r := endErr(err)
			if goodbye >= 0 {
				r = fmt.Sprintf("GOODBYE %d, then %s", goodbye, r)
			} else {
				r = "no GOODBYE, " + r
			}
			ended <- r
			return
		}
		ln := binary.BigEndian.Uint32(hdr)
		body := make([]byte, ln)
		if _, err := io.ReadFull(c, body); err != nil {
			ended <- "mid-frame: " + endErr(err)
			return
		}
		k, p := body[0], body[1:]
		switch k {
		case 0x30:
		case 0x31:
			goodbye = int(p[0])
			logf("<- GOODBYE reason=%d", p[0])
		case 0x5f:
			logf("<- SYNCED")
			if !syncedOnce {
				syncedOnce = true
				close(synced)
			}
		case 0x41:
			lookups <- binary.BigEndian.Uint64(p)
		case 0x60:
			logf("<- CERT_UPDATE (%d bytes) %s", len(p), checkIncoming(p))
		default:
			if !*quiet {
				logf("<- kind 0x%02x len %d", k, len(p))
			}
		}
	}
}

// checkIncoming verifies a CERT_UPDATE the victim sent us, per the doc.
func checkIncoming(p []byte) string {
	if len(p) < 5 {
		return "TOO SHORT"
	}
	sch := binary.BigEndian.Uint16(p)
	sl := int(binary.BigEndian.Uint16(p[2:]))
	sig := p[4 : 4+sl]
	q := p[4+sl:]
	cnt := int(q[0])
	q = q[1:]
	var certs []*x509.Certificate
	for i := 0; i < cnt; i++ {
		l := int(binary.BigEndian.Uint16(q))
		cc, err := x509.ParseCertificate(q[2 : 2+l])
		if err != nil {
			return "bad cert: " + err.Error()
		}
		certs = append(certs, cc)
		q = q[2+l:]
	}
	msg := append([]byte(*prefix), expo...)
	ok := verify(certs[0].PublicKey, sch, msg, sig)
	return fmt.Sprintf("scheme=%04x sig=%d certs=%d leaf CN=%s serial=%x trailing=%d SIGNATURE-VALID=%v",
		sch, sl, cnt, certs[0].Subject.CommonName, certs[0].SerialNumber, len(q), ok)
}

func hello() []byte {
	p := binary.BigEndian.AppendUint16(nil, 1)
	var inc [8]byte
	rand.Read(inc[:])
	inc[7] |= 1
	p = append(p, inc[:]...)
	p = append(p, byte(len(*cluster)))
	p = append(p, *cluster...)
	p = append(p, byte(len(*me)))
	p = append(p, *me...)
	return frame(1, p)
}

func readHS() (byte, []byte) {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c, hdr); err != nil {
		logf("handshake read: %s", endErr(err))
		os.Exit(2)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr))
	io.ReadFull(c, body)
	return body[0], body[1:]
}

func buildUpdate() []byte {
	chain := loadChain(*upChain)
	var sig []byte
	e := expo
	if *expHex != "" {
		e, _ = hex.DecodeString(strings.TrimSpace(readMaybeFile(*expHex)))
	}
	msg := append([]byte(*prefix), e...)
	switch {
	case *sigHex != "":
		sig, _ = hex.DecodeString(*sigHex)
	case *sigLen >= 0:
		sig = make([]byte, *sigLen)
		rand.Read(sig)
	default:
		sig = sign(loadKey(*upKey), *scheme, msg)
	}
	if *flipSig {
		sig[len(sig)/2] ^= 0x01
	}
	var p []byte
	p = binary.BigEndian.AppendUint16(p, uint16(*scheme))
	p = binary.BigEndian.AppendUint16(p, uint16(len(sig)+*sigLie))
	p = append(p, sig...)
	var certs [][]byte
	for i := 0; i < *repeat; i++ {
		certs = append(certs, chain[0])
	}
	certs = append(certs, chain[1:]...)
	cnt := len(certs)
	if *zeroCert {
		cnt++
	}
	if *count >= 0 {
		cnt = *count
	}
	p = append(p, byte(cnt))
	for i, d := range certs {
		l := len(d)
		if i == 0 {
			l += *lenLie
		}
		p = binary.BigEndian.AppendUint16(p, uint16(l))
		p = append(p, d...)
	}
	if *zeroCert {
		p = append(p, 0, 0)
	}
	p = append(p, make([]byte, *trailing)...)
	if *trunc >= 0 && *trunc < len(p) {
		p = p[:*trunc]
	}
	f := frame(0x60, p)
	if *flen >= 0 {
		binary.BigEndian.PutUint32(f, uint32(*flen))
	}
	return f
}

func readMaybeFile(s string) string {
	if b, err := os.ReadFile(s); err == nil {
		return string(b)
	}
	return s
}

func alive(timeout time.Duration) bool {
	var req [8]byte
	rand.Read(req[:])
	id := binary.BigEndian.Uint64(req[:])
	p := append(req[:], 4)
	p = append(p, "echo"...)
	if err := write(frame(0x40, p)); err != nil {
		return false
	}
	dl := time.After(timeout)
	for {
		select {
		case r := <-lookups:
			if r == id {
				return true
			}
		case <-dl:
			return false
		}
	}
}

func main() {
	flag.Parse()
	pool := x509.NewCertPool()
	pb, _ := os.ReadFile(*caF)
	pool.AppendCertsFromPEM(pb)
	kp, err := tls.LoadX509KeyPair(*certF, *keyF)
	if err != nil {
		panic(err)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13, NextProtos: []string{"reign/1"},
		Certificates: []tls.Certificate{kp}, SessionTicketsDisabled: true, InsecureSkipVerify: true}
	tc, err := net.Dial("tcp", *addr)
	if err != nil {
		logf("dial: %v", err)
		os.Exit(2)
	}
	sp = &spy{Conn: tc}
	c = tls.Client(sp, cfg)
	if err := c.Handshake(); err != nil {
		logf("TLS: %v", err)
		os.Exit(2)
	}
	st := c.ConnectionState()
	var ctx []byte
	if *ctxHex != "" {
		ctx, _ = hex.DecodeString(*ctxHex)
	} else if *ctxEmpty {
		ctx = []byte{}
	}
	expo, err = st.ExportKeyingMaterial(*label, ctx, 32)
	if err != nil {
		panic(err)
	}
	// our real exporter for checking the victim's own updates is always the documented one
	realExp, _ := st.ExportKeyingMaterial("EXPORTER-reign-certificate-update", nil, 32)
	if *saveExp != "" {
		os.WriteFile(*saveExp, []byte(hex.EncodeToString(realExp)), 0o644)
	}
	write(hello())
	k, p := readHS()
	if k != 1 {
		logf("handshake: got kind %d % x", k, p)
		os.Exit(2)
	}
	write(frame(3, nil))
	logf("link up as %s (peer CN %s); exporter %x", *me, st.PeerCertificates[0].Subject.CommonName, realExp[:8])
	expo = realExp
	if *label != "EXPORTER-reign-certificate-update" || *ctxHex != "" || *ctxEmpty {
		expo, _ = st.ExportKeyingMaterial(*label, ctx, 32)
	}
	go reader()
	go func() {
		for i := uint64(0); ; i++ {
			if write(frame(0x30, binary.BigEndian.AppendUint64(nil, i))) != nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	if !*presync {
		select {
		case <-synced:
		case r := <-ended:
			logf("RESULT ended before SYNCED: %s", r)
			return
		case <-time.After(5 * time.Second):
			logf("no SYNCED in 5 s")
		}
		write(frame(0x5f, nil))
		time.Sleep(*delay)
	}
	var f []byte
	if *upChain != "" {
		f = buildUpdate()
		if !*quiet {
			logf("-> CERT_UPDATE frame %d bytes (first 16: % x)", len(f), f[:min(16, len(f))])
		}
	}
	sent := 0
	start := time.Now()
	for i := 0; i < *n && f != nil; i++ {
		if i > 0 && *interval > 0 {
			next := start.Add(time.Duration(i) * *interval)
			select {
			case r := <-ended:
				logf("RESULT after %d updates (%.3fs): %s", sent, time.Since(start).Seconds(), r)
				return
			case <-time.After(time.Until(next)):
			}
		}
		if *presync && i == 0 {
			// nothing
		}
		if err := write(f); err != nil {
			break
		}
		sent++
		if *n > 1 && !*quiet {
			logf("-> update #%d", sent)
		}
		if *upChain != "" && *n > 1 {
			f = buildUpdate() // fresh signature each time
		}
	}
	if *presync {
		time.Sleep(*delay)
		write(frame(0x5f, nil))
	}
	select {
	case r := <-ended:
		logf("RESULT after %d updates (%.3fs): %s", sent, time.Since(start).Seconds(), r)
		return
	case <-time.After(*hold):
	}
	if alive(2 * time.Second) {
		logf("RESULT after %d updates: ALIVE (LOOKUP answered)", sent)
	} else {
		select {
		case r := <-ended:
			logf("RESULT after %d updates: %s", sent, r)
		case <-time.After(2 * time.Second):
			logf("RESULT after %d updates: NO LOOKUP REPLY, link not closed", sent)
		}
		return
	}
	if *stayFor > 0 {
		select {
		case r := <-ended:
			logf("ENDED while staying: %s", r)
		case <-time.After(*stayFor):
			logf("stay over; still up: %v", alive(2*time.Second))
		}
	}
	_ = bytes.Equal
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
