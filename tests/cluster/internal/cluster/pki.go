package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the cluster's certificate authority and the certificates made from it.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// ensurePKI creates (or loads) the CA, the API server's serving certificate, the client
// certificates of the cluster admin and the components, and the service-account key pair.
func ensurePKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir}
	if _, err := os.Stat(p.path("ca.crt")); err == nil {
		if err := p.loadCA(); err != nil {
			return nil, err
		}
	} else {
		if err := p.makeCA(); err != nil {
			return nil, err
		}
	}
	type leaf struct {
		name   string
		cn     string
		orgs   []string
		server bool
	}
	leaves := []leaf{
		{"apiserver", "kube-apiserver", nil, true},
		{"admin", "kubernetes-admin", []string{"system:masters"}, false},
		{"scheduler", "system:kube-scheduler", nil, false},
		{"controller-manager", "system:kube-controller-manager", nil, false},
		// The simulated kubelets act for thousands of nodes at once, so they cannot each be a
		// system:node:<name> identity restricted by the Node authorizer; they are cluster admins.
		{"nodesim", "drop-nodesim", []string{"system:masters"}, false},
	}
	for _, l := range leaves {
		if _, err := os.Stat(p.path(l.name + ".crt")); err == nil {
			continue
		}
		if err := p.makeLeaf(l.name, l.cn, l.orgs, l.server); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(p.path("sa.key")); err != nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		if err := writePEM(p.path("sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600); err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := writePEM(p.path("sa.pub"), "PUBLIC KEY", pub, 0o644); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *pki) makeCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "drop-testcluster-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	p.caKey = key
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(p.path("ca.key"), "EC PRIVATE KEY", kb, 0o600); err != nil {
		return err
	}
	return writePEM(p.path("ca.crt"), "CERTIFICATE", der, 0o644)
}

func (p *pki) loadCA() error {
	cb, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return err
	}
	kb, err := os.ReadFile(p.path("ca.key"))
	if err != nil {
		return err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return fmt.Errorf("%s: bad CA files", p.dir)
	}
	if p.caCert, err = x509.ParseCertificate(cblock.Bytes); err != nil {
		return err
	}
	p.caKey, err = x509.ParseECPrivateKey(kblock.Bytes)
	return err
}

func (p *pki) makeLeaf(name, cn string, orgs []string, server bool) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.96.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(p.path(name+".key"), "EC PRIVATE KEY", kb, 0o600); err != nil {
		return err
	}
	return writePEM(p.path(name+".crt"), "CERTIFICATE", der, 0o644)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
