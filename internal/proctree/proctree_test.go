package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestAStartedProcessIsAChildAndInTheTree(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	me, kid := os.Getpid(), cmd.Process.Pid
	if !slices.Contains(Children()[me], kid) {
		t.Errorf("children of %d = %v: %d missing", me, Children()[me], kid)
	}
	if tree := Tree(os.Getppid()); !slices.Contains(tree, me) || !slices.Contains(tree, kid) {
		t.Errorf("tree of %d = %v: want %d and its child %d", os.Getppid(), tree, me, kid)
	}
	if tree := Tree(kid); len(tree) != 1 || tree[0] != kid {
		t.Errorf("tree of a leaf %d = %v", kid, tree)
	}
}
