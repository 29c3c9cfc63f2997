package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// resolveProject finds the project as gcloud users expect: --project, else
// $CLOUDSDK_CORE_PROJECT, else $GOOGLE_CLOUD_PROJECT, else the active gcloud
// configuration's [core] project. Wherever it comes from it is checked by
// the plugin's project-ID rule, and the message names where it came from.
func (c *commonFlags) resolveProject(e *env) error {
	source := "--project"
	if c.project == "" {
		c.project, source = projectFromEnvironment(e)
	}
	c.projectFrom = source
	if c.project == "" {
		return usagef("--project is required: name the project that holds the images, e.g. --project acme-images " +
			"(or set CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, or gcloud config set project)")
	}
	if err := pluginconfig.ValidateProjectID(source, c.project); err != nil {
		msg := err.Error()
		if source != "--project" {
			msg += ": correct it there, or pass --project"
		}
		return usageError{msg}
	}
	return nil
}

// projectFromEnvironment is the project the environment names, and where
// it said so ("" when nowhere).
func projectFromEnvironment(e *env) (project, source string) {
	for _, k := range []string{"CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"} {
		if v := strings.TrimSpace(e.env(k)); v != "" {
			return v, k
		}
	}
	dir := e.env("CLOUDSDK_CONFIG")
	if dir == "" {
		home := e.env("HOME")
		if home == "" {
			return "", ""
		}
		dir = filepath.Join(home, ".config", "gcloud")
	}
	name := e.env("CLOUDSDK_ACTIVE_CONFIG_NAME")
	if name == "" {
		b, err := os.ReadFile(filepath.Join(dir, "active_config"))
		if err != nil {
			name = "default" // gcloud's own name for the first configuration
		} else {
			name = strings.TrimSpace(string(b))
		}
	}
	file := filepath.Join(dir, "configurations", "config_"+name)
	if p := iniValue(file, "core", "project"); p != "" {
		return p, "the project of gcloud configuration " + name + " (" + file + ")"
	}
	return "", ""
}

// iniValue reads key of [section] from a gcloud properties file (INI: no
// quoting, "key = value" lines, ";" and "#" comments); "" when absent or
// unreadable.
func iniValue(path, section, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			in = strings.TrimSpace(line[1:len(line)-1]) == section
		case in:
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// pluginconfigProject checks a project ID read from a file by the plugin's
// rule.
func pluginconfigProject(p string) error {
	return pluginconfig.ValidateProjectID("project", p)
}
