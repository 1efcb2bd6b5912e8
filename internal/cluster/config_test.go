package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.URLs = []string{"nats://127.0.0.1:4222"}
		c.NodeName = "node-1"
		c.Advertise = "10.0.0.5:61920"
		return c
	}
	if c := good(); c.Validate() != nil {
		t.Fatalf("good config: %v", c.Validate())
	}
	if c := DefaultConfig(); c.TTL != 5*time.Second || c.Linger != 10*time.Second || c.MaxPulls != 32 || c.Bucket != "fstream" || c.Replicas != 1 {
		t.Fatalf("defaults = %+v", c)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no URL", func(c *Config) { c.URLs = nil }, "no NATS URL"},
		{"bad scheme", func(c *Config) { c.URLs = []string{"http://x:1"} }, "unknown scheme"},
		{"no host", func(c *Config) { c.URLs = []string{"nats://"} }, "want nats://"},
		{"empty node", func(c *Config) { c.NodeName = "" }, "node name"},
		{"slash in node", func(c *Config) { c.NodeName = "a/b" }, "node name"},
		{"no advertise", func(c *Config) { c.Advertise = "" }, "advertise address required"},
		{"wildcard advertise", func(c *Config) { c.Advertise = "0.0.0.0:61920" }, "wildcard"},
		{"wildcard v6", func(c *Config) { c.Advertise = "[::]:61920" }, "wildcard"},
		{"empty host", func(c *Config) { c.Advertise = ":61920" }, "wildcard"},
		{"port 0", func(c *Config) { c.Advertise = "10.0.0.5:0" }, "port"},
		{"no port", func(c *Config) { c.Advertise = "10.0.0.5" }, "missing port"},
		{"cert without key", func(c *Config) { c.TLSCert = "c.pem" }, "together"},
		{"bad bucket", func(c *Config) { c.Bucket = "a.b" }, "bucket"},
		{"long bucket", func(c *Config) { c.Bucket = strings.Repeat("b", 65) }, "bucket"},
		{"replicas 0", func(c *Config) { c.Replicas = 0 }, "replicas"},
		{"replicas 6", func(c *Config) { c.Replicas = 6 }, "replicas"},
		{"short TTL", func(c *Config) { c.TTL = 500 * time.Millisecond }, "TTL"},
		{"negative linger", func(c *Config) { c.Linger = -1 }, "linger"},
		{"no pulls", func(c *Config) { c.MaxPulls = 0 }, "max pulls"},
		{"no timeout", func(c *Config) { c.OpTimeout = 0 }, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good()
			c.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestDefaultAdvertise(t *testing.T) {
	cases := []struct {
		listen, want string
		err          error
	}{
		{"10.1.2.3:61920", "10.1.2.3:61920", nil},
		{"node1.example:61920", "node1.example:61920", nil},
		{"[2001:db8::1]:61920", "[2001:db8::1]:61920", nil},
		{":61920", "", ErrAdvertiseRequired},
		{"0.0.0.0:61920", "", ErrAdvertiseRequired},
		{"[::]:61920", "", ErrAdvertiseRequired},
	}
	for _, c := range cases {
		got, err := DefaultAdvertise(c.listen)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("DefaultAdvertise(%q) = %q, %v; want %q, %v", c.listen, got, err, c.want, c.err)
		}
	}
	if _, err := DefaultAdvertise("nonsense"); err == nil {
		t.Error("DefaultAdvertise(nonsense) succeeded")
	}
	if _, err := DefaultAdvertise("127.0.0.1:0"); err == nil {
		t.Error("DefaultAdvertise of port 0 succeeded; the server must pass the port it really got")
	}
}
