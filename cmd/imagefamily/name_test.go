package main

import (
	"testing"
)

func TestNamePrintsTheConventionalName(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
		want   string
	}{
		{"default template", []string{"--os", "Debian 12", "--software", "nginx", "--version", "1.24.0", "--timestamp", "2026-11-26T07:47:30+01:00"}, "", "debian-12-nginx-1-24-0-v20261126t064730\n"},
		{"timestamp from the clock", []string{"--os", "debian-12", "--software", "nginx", "--version", "1.24.0"}, "", "debian-12-nginx-1-24-0-v20261126t064730\n"},
		{"own template", []string{"--template", "{software}-{version}-{os}", "--os", "debian", "--software", "web", "--version", "2"}, "", "web-2-debian\n"},
		{"json", []string{"--os", "debian-12", "--software", "a-very-long-software-name-that-goes-on", "--version", "2026.11.26-build-1234567", "--format", "json"}, "name_json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, nil, exitOK, append([]string{"name"}, tt.args...)...)
			if tt.golden != "" {
				golden(t, tt.golden, r.stdout)
				return
			}
			if r.stdout != tt.want {
				t.Errorf("stdout %q, want %q", r.stdout, tt.want)
			}
		})
	}
}
