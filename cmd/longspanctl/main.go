// Command longspanctl runs a sharded otelcol-longspan deployment from its deployment
// file (docs/scale-out.md):
//
//	longspanctl config -d deploy.yaml [-bin otelcol-longspan]
//	    writes the front tier's and every gateway's configuration (and validates them
//	    with the collector binary when -bin is given)
//	longspanctl move -d deploy.yaml -shard N -to GATEWAY [-bin ...] [-timeout 2m]
//	    moves shard N, whole, to GATEWAY while everything else keeps running; records
//	    it in the deployment file's two shard lists (nothing else there changes), and
//	    signals only processes that run the gateways' --config (see proc.go)
//	longspanctl status -d deploy.yaml
//	    lists every shard's gateway and whether its journal is held
//	longspanctl k8s-services -d deploy.yaml [-namespace NS] [-statefulset NAME]
//	    prints one Kubernetes Service per shard, selecting the pod that serves it
//	    (the gateways are the StatefulSet's pods, named as in the deployment file)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "longspanctl:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: longspanctl config|move|status -d deploy.yaml [flags]; -h after a command lists its flags")
	}
	fs := flag.NewFlagSet("longspanctl "+args[0], flag.ContinueOnError)
	deploy := fs.String("d", "deploy.yaml", "the deployment file")
	bin := fs.String("bin", "", "the otelcol-longspan binary, to validate every configuration written (optional)")
	shard := fs.Int("shard", -1, "move: the shard to move")
	to := fs.String("to", "", "move: the gateway that takes the shard")
	timeout := fs.Duration("timeout", 2*time.Minute, "move: how long each step may take")
	namespace := fs.String("namespace", "", "k8s-services: the namespace of the Services (empty: none set)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "config":
		return writeConfigs(*deploy, *bin)
	case "move":
		if *shard < 0 || *to == "" {
			return errors.New("move needs -shard N and -to GATEWAY")
		}
		return move(*deploy, *bin, *shard, *to, *timeout, os.Stdout)
	case "status":
		return status(*deploy, os.Stdout)
	case "k8s-services":
		return k8sServices(*deploy, *namespace, os.Stdout)
	}
	return fmt.Errorf("unknown command %q: want config, move, status or k8s-services", args[0])
}
