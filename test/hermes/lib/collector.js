// The built collector for the Hermes end-to-end test (test/lib/collector.js, shared with the
// browser suite) with this test's timings.
import { Collector as SharedCollector, repoRoot, binary, sleep, until, freePorts } from '../../lib/collector.js';

export { repoRoot, binary, sleep, until, freePorts };

// Timings shared by the collector config and the assertions. idle_timeout is long: nothing in
// this test may be closed for silence while it posts.
export const T = {
  snapshotInterval: 500,
  idleTimeout: 120000,
  tick: 100,
  decisionWait: 500,
};

/** The collector under test with these timings. */
export class Collector extends SharedCollector {
  static create(name) {
    return SharedCollector.create(name, { kind: 'hermes', timings: T });
  }
}
