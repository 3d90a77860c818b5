package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// writeConfigs writes the front tier's and every gateway's configuration to the paths
// the deployment file names.
func writeConfigs(deployPath, bin string) error {
	d, err := topology.Load(deployPath)
	if err != nil {
		return err
	}
	for i, in := range d.FrontInstances() {
		if in.Config == "" {
			continue
		}
		cfg, err := d.FrontInstanceConfig(i)
		if err != nil {
			return err
		}
		if err := writeConfig(in.Config, cfg, bin); err != nil {
			return err
		}
	}
	for _, name := range d.GatewayNames() {
		if err := writeGateway(d, name, bin); err != nil {
			return err
		}
	}
	return nil
}

func writeGateway(d *topology.Deployment, name, bin string) error {
	g := d.Gateways[name]
	if g.Config == "" {
		return fmt.Errorf("gateways::%s::config: required (where to write its configuration)", name)
	}
	cfg, err := d.GatewayConfig(name)
	if err != nil {
		return err
	}
	return writeConfig(g.Config, cfg, bin)
}

// writeConfig validates cfg with the collector binary when one is given, then
// replaces path atomically, so that a collector reloading it never reads half a file.
func writeConfig(path string, cfg []byte, bin string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, cfg, 0o644); err != nil {
		return err
	}
	if bin != "" {
		if out, err := exec.Command(bin, "validate", "--config", tmp).CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("%s does not validate: %v: %s", path, err, strings.TrimSpace(string(out)))
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}
