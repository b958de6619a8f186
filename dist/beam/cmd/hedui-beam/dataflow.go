//go:build dataflow

package main

// The Dataflow runner pulls in the Google Cloud client libraries; it is
// built only with -tags dataflow (make dist-run RUNNER=dataflow), so that
// the default build and the parity test stay small.
import _ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
