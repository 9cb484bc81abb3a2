package main

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		idle           time.Duration
		conns, queries int
		rrl, slip      int
	}{
		{name: "defaults", idle: 10 * time.Second, conns: 256, queries: 100, rrl: 0, slip: 2},
		{name: "all set", args: []string{"--tcp-idle-timeout", "2s", "--tcp-max-conns", "10", "--tcp-max-queries", "5", "--rrl", "100", "--rrl-slip", "3"},
			idle: 2 * time.Second, conns: 10, queries: 5, rrl: 100, slip: 3},
		{name: "no query limit", args: []string{"--tcp-max-queries", "0"}, idle: 10 * time.Second, conns: 256, queries: -1, slip: 2},
		{name: "drop all limited", args: []string{"--rrl", "5", "--rrl-slip", "0"}, idle: 10 * time.Second, conns: 256, queries: 100, rrl: 5, slip: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(append([]string{"--ip", "198.18.0.2"}, tc.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			n := c.tcp
			if n.IdleTimeout != tc.idle || n.MaxConns != tc.conns || n.MaxQueries != tc.queries {
				t.Errorf("tcp = %v %d %d, want %v %d %d", n.IdleTimeout, n.MaxConns, n.MaxQueries, tc.idle, tc.conns, tc.queries)
			}
			if c.svc.RRL != tc.rrl || c.svc.RRLSlip != tc.slip {
				t.Errorf("rrl = %d slip %d, want %d %d", c.svc.RRL, c.svc.RRLSlip, tc.rrl, tc.slip)
			}
		})
	}
}

func TestParseLimitsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--tcp-idle-timeout", "0s"},
		{"--tcp-idle-timeout", "2h"},
		{"--tcp-idle-timeout", "ten"},
		{"--tcp-max-conns", "0"},
		{"--tcp-max-conns", "100000"},
		{"--tcp-max-queries", "-1"},
		{"--rrl", "-1"},
		{"--rrl", "2000000"},
		{"--rrl-slip", "-1"},
		{"--rrl-slip", "101"},
	} {
		t.Run(args[0]+"="+args[1], func(t *testing.T) {
			_, err := parseConfig(append([]string{"--ip", "198.18.0.2"}, args...), io.Discard)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}
