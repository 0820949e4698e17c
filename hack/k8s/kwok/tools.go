//go:build tools

// Package tools pins KWOK's controller, which plays the kubelets of the sandbox's nodes.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
