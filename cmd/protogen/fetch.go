package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// fetchLibvirt unpacks Debian's libvirt 9.0 source package into dir and
// returns the source tree. It needs deb-src entries, which a stock image
// lacks, so it writes its own from the machine's deb entries and points
// apt at private list and cache directories: /etc/apt is not touched.
func fetchLibvirt(dir string) (string, error) {
	parts := filepath.Join(dir, "sources.list.d")
	lists := filepath.Join(dir, "lists")
	cache := filepath.Join(dir, "cache")
	for _, d := range []string{parts, filepath.Join(lists, "partial"), filepath.Join(cache, "archives", "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	srcs, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	n := 0
	for _, f := range srcs {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		text := strings.ReplaceAll(string(b), "Types: deb\n", "Types: deb-src\n")
		if !strings.Contains(text, "Types: deb-src") {
			continue
		}
		n++
		if err := os.WriteFile(filepath.Join(parts, filepath.Base(f)), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	if n == 0 {
		return "", fmt.Errorf("no Debian sources in /etc/apt/sources.list.d/*.sources to derive deb-src entries from; pass -libvirt with an unpacked libvirt 9.0 source tree")
	}
	opts := []string{
		"-o", "Dir::Etc::SourceList=/dev/null",
		"-o", "Dir::Etc::SourceParts=" + parts,
		"-o", "Dir::State::Lists=" + lists,
		"-o", "Dir::Cache=" + cache,
		"-o", "APT::Sandbox::User=root",
	}
	run := func(args ...string) error {
		cmd := exec.Command("apt-get", append(opts, args...)...)
		cmd.Dir = dir
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w (needs apt and the Debian archive; or pass -libvirt DIR)", strings.Join(args, " "), err)
		}
		return nil
	}
	if err := run("-qq", "update"); err != nil {
		return "", err
	}
	if err := run("-qq", "source", "--download-only", "libvirt"); err != nil {
		return "", err
	}
	// dpkg-source applies Debian's patches; without dpkg-dev, the
	// upstream tarball alone holds the same protocol files.
	if got, _ := filepath.Glob(filepath.Join(dir, "libvirt_9.0.0*.dsc")); len(got) == 0 {
		return "", fmt.Errorf("apt-get source fetched no libvirt 9.0.0 (this archive's libvirt is another version); pass -libvirt with an unpacked libvirt 9.0 source tree")
	}
	tree := filepath.Join(dir, "libvirt-9.0.0")
	if _, err := exec.LookPath("dpkg-source"); err == nil {
		dsc, _ := filepath.Glob(filepath.Join(dir, "libvirt_9.0.0*.dsc"))
		if len(dsc) == 1 {
			cmd := exec.Command("dpkg-source", "--no-check", "-x", dsc[0], tree)
			cmd.Dir = dir
			cmd.Stdout = os.Stderr
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err == nil {
				return tree, nil
			}
		}
	}
	orig, _ := filepath.Glob(filepath.Join(dir, "libvirt_9.0.0.orig.tar.*"))
	if len(orig) != 1 {
		return "", fmt.Errorf("apt-get source left no libvirt_9.0.0.orig tarball in %s", dir)
	}
	cmd := exec.Command("tar", "-xf", orig[0], "-C", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", orig[0], err)
	}
	return tree, nil
}
