package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"

	"drop.io/tests/cluster/internal/scenario"
)

// FaultsFile is where the fault proxy reads its settings (it re-reads the file when it changes).
func FaultsFile(dir string) string { return filepath.Join(dir, "faults.json") }

// WriteFaults sets the fault proxy's faults; a running proxy picks them up within a second.
func WriteFaults(dir string, f scenario.ProxyFaults) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := FaultsFile(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, FaultsFile(dir))
}
