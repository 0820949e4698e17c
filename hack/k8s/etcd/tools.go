//go:build tools

// Package tools pins etcd at the version kube-apiserver 1.36.3 requires.
package tools

import _ "go.etcd.io/etcd/server/v3"
