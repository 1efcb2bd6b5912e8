package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/fstream/fstream/internal/auth"
)

func TestTrustedProxiesSetting(t *testing.T) {
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}
	file := writeConfig(t, "http-trusted-proxies = 127.0.0.1, 10.1.2.3/8 ,::1\n")
	for _, args := range [][]string{
		{"serve", "--http-trusted-proxies", "127.0.0.1,10.1.2.3/8,::1"},
		{"serve", "--config", file},
	} {
		r := parse(t, args, nil)
		if r.serve == nil {
			t.Fatalf("%v: exit %d, %q", args, r.code, r.stderr)
		}
		if got := r.serve.HTTPTrustedProxies; !reflect.DeepEqual(got, want) {
			t.Errorf("%v: trusted proxies %v, want %v", args, got, want)
		}
	}
	r := parse(t, []string{"serve"}, map[string]string{"FSTREAM_HTTP_TRUSTED_PROXIES": "::ffff:192.0.2.1"})
	if r.serve == nil || len(r.serve.HTTPTrustedProxies) != 1 || r.serve.HTTPTrustedProxies[0] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("from the environment: %+v %q", r.serve, r.stderr)
	}

	bad := writeConfig(t, "# proxies\nhttp-trusted-proxies = 127.0.0.1, proxy.example\n")
	r = parse(t, []string{"serve", "--config", bad}, nil)
	want2 := `fstream: ` + bad + `:2: http-trusted-proxies = "127.0.0.1, proxy.example": "proxy.example" is not an address or a CIDR; ` +
		`fix: write addresses or CIDRs separated by commas, such as 127.0.0.1/32,::1/128 (see 'fstream serve --help')` + "\n"
	if r.code != exitUsage || r.stderr != want2 {
		t.Errorf("bad entry: exit %d, stderr\n%q\nwant\n%q", r.code, r.stderr, want2)
	}
}

// TestServeLogsNoURLSecrets: at debug level, the settings are logged with
// the --auth-url's user name and password masked.
func TestServeLogsNoURLSecrets(t *testing.T) {
	_, log, stop := startServe(t, "--users", t.TempDir(), "--log-level", "debug",
		"--auth-url", "http://apikey:Pw0rd@127.0.0.1:9/auth", "--http-admin-token", "T0ken")
	waitLog(t, log, `msg=setting name=auth-url`)
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	for _, secret := range []string{"Pw0rd", "apikey", "T0ken"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, log)
		}
	}
}

// TestServeWarnsAboutExposure: the HTTP settings under which the status
// page, the JSON API and the metrics could reach anyone are warned about at
// start-up.
func TestServeWarnsAboutExposure(t *testing.T) {
	tests := []struct {
		args []string
		want string // regexp; "" for no warning
	}{
		{[]string{"--http", "127.0.0.1:0"}, `level=WARN msg="the HTTP side is on a loopback address: if a reverse proxy`},
		{[]string{"--http", "127.0.0.1:0", "--http-public-status"}, `level=WARN msg="--http-public-status: `},
		{[]string{"--http", "127.0.0.1:0", "--http-trusted-proxies", "0.0.0.0/0"}, `level=WARN msg="--http-trusted-proxies includes every address`},
	}
	for _, tt := range tests {
		_, log, stop := startServe(t, append([]string{"--users", t.TempDir()}, tt.args...)...)
		waitLog(t, log, `msg="http listening"`)
		waitLog(t, log, tt.want)
		stop()
	}
	_, log, stop := startServe(t, "--users", t.TempDir(), "--http", "127.0.0.1:0", "--http-trusted-proxies", "127.0.0.1")
	waitLog(t, log, `msg="http listening".* trusted_proxies=127.0.0.1/32`)
	stop()
	if strings.Contains(log.String(), "level=WARN") {
		t.Errorf("a trusted loopback proxy is warned about:\n%s", log)
	}
}

// TestServeWarnsAboutWeakHashes: users whose bcrypt hash is cheaper than
// the default cost are named at start.
func TestServeWarnsAboutWeakHashes(t *testing.T) {
	users := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), 5) // what htpasswd -nB makes
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.NewDir(users).AddUserHash("cheap", string(hash)); err != nil {
		t.Fatal(err)
	}
	_, log, stop := startServe(t, "--users", users)
	waitLog(t, log, `level=WARN msg="weak password hashes: .*" users=cheap min_cost=10`)
	stop()
}
