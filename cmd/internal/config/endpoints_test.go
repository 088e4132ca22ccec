package config

import (
	"testing"

	"github.com/phoneprov/phoneprov/fileserve"
)

// What DHCP and the generated settings tell phones follows the file
// server's listen addresses, and the https_port BRURI names defaults to
// the port HTTPS listens on.
func TestEndpointsFollowTheListenAddresses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Endpoints
		bruriPort  int
	}{
		{"defaults", "", Endpoints{HTTPS: true, CACertName: fileserve.CAFileName, HTTPPort: 80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69, HTTPSListen: true}, 443},
		{"96x1 H.323 TLS port beside 443", "[fileserve.https]\nlisten = [\"198.18.0.1:443\", \"198.18.0.1:411\"]\n",
			Endpoints{HTTPS: true, CACertName: fileserve.CAFileName, HTTPPort: 80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69, HTTPSListen: true}, 443},
		{"other ports", "[fileserve.http]\nlisten = [\":8080\"]\n[fileserve.https]\nlisten = [\":8443\"]\n[fileserve.tftp]\nlisten = [\":6969\"]\n",
			Endpoints{HTTPS: true, CACertName: fileserve.CAFileName, HTTPPort: 8080, HTTPSPort: 8443, TLSPort: 8443, TFTPPort: 6969, HTTPSListen: true}, 8443},
		{"https_port set by hand", "[fileserve.https]\nlisten = [\":8443\"]\n[provisioning]\nhttps_port = 8443\nbackup_path = \"\"\n",
			Endpoints{HTTPS: true, CACertName: fileserve.CAFileName, HTTPPort: 80, HTTPSPort: 8443, TLSPort: 8443, TFTPPort: 69, HTTPSListen: true}, 8443},
		{"HTTPS off", "[fileserve.https]\nenabled = false\n",
			Endpoints{HTTPPort: 80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69, HTTPSListen: true}, 443},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Endpoints(); got != tc.want {
				t.Errorf("endpoints %+v\nwant      %+v", got, tc.want)
			}
			if cfg.Provisioning.HTTPSPort != tc.bruriPort {
				t.Errorf("provisioning.https_port %d, want %d", cfg.Provisioning.HTTPSPort, tc.bruriPort)
			}
		})
	}
	// An operator's certificate: phones are not told to trust the
	// appliance's own CA.
	cfg := Default()
	cfg.FileServe.HTTPS.CertFile, cfg.FileServe.HTTPS.KeyFile = "site.pem", "site.key"
	if ep := cfg.Endpoints(); ep.CACertName != "" || !ep.HTTPS {
		t.Errorf("with cert_file: %+v", ep)
	}
}
