package main

import (
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/otelcol-longspan/otelcol-longspan/internal/topology"
)

// k8sServices prints one Service per shard. The front tier dials the shard's
// `endpoint` (a Service name, e.g. longspan-shard-{shard}:4317); the Service selects
// the pod that serves the shard by the label every StatefulSet pod carries
// (statefulset.kubernetes.io/pod-name), so gateway names in the deployment file are
// pod names. Moving a shard changes one selector; the name the front dials never
// changes, which is what makes a pod restart not a move.
func k8sServices(deployPath, namespace string, out io.Writer) error {
	d, err := topology.Load(deployPath)
	if err != nil {
		return err
	}
	for s := 0; s < d.Shards; s++ {
		host, port, err := net.SplitHostPort(d.ShardEndpoint(s))
		if err != nil {
			return fmt.Errorf("shard %d: endpoint %q: %w", s, d.ShardEndpoint(s), err)
		}
		_, target, err := net.SplitHostPort(d.ShardListen(s))
		if err != nil {
			return fmt.Errorf("shard %d: listen %q: %w", s, d.ShardListen(s), err)
		}
		name, _, _ := strings.Cut(host, ".")
		fmt.Fprintf(out, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n", name)
		if namespace != "" {
			fmt.Fprintf(out, "  namespace: %s\n", namespace)
		}
		fmt.Fprintf(out, "  labels:\n    app.kubernetes.io/part-of: otelcol-longspan\n    longspan.shard: %q\n", d.ShardName(s))
		fmt.Fprintf(out, "spec:\n  selector:\n    statefulset.kubernetes.io/pod-name: %s\n", d.Owner(s))
		fmt.Fprintf(out, "  ports:\n    - name: otlp-grpc\n      port: %s\n      targetPort: %s\n", port, target)
	}
	return nil
}
