// What cribd reads of a detached run (pause under crib-io monitor): the runtime's message from its
// JSON log, and the run's command line (global flags before the subcommand, as runc and crun parse them).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logMessage } from '../../src/oci/crib-io-monitor.js';
import { RuncCli } from '../../src/oci/runc.js';

describe('a detached run under crib-io monitor', () => {
  it("quotes the runtime's JSON log line by its msg, and any other line as it is", () => {
    assert.equal(
      logMessage(
        '{"level":"error","msg":"runc run failed: unable to start container process: open /proc/sys/net/x: no such file or directory","time":"2026-12-07T15:00:00Z"}',
      ),
      'runc run failed: unable to start container process: open /proc/sys/net/x: no such file or directory',
    );
    assert.equal(logMessage('cgroups in hybrid mode not supported'), 'cgroups in hybrid mode not supported');
    assert.equal(logMessage('{"level":"error"}'), '{"level":"error"}');
    assert.equal(logMessage('{"msg":3}'), '{"msg":3}');
  });

  it('runs the bundle with run --detach, its pid file and log given, global flags first', () => {
    const runc = new RuncCli('runc', '/usr/sbin/runc', '/run/crib/runtime/runc', { shortcuts: false });
    assert.deepEqual(runc.runDetachedArgs('ID', { bundle: '/b', pidFile: '/b/pidfile', logFile: '/p/pause.log' }), [
      '--root=/run/crib/runtime/runc',
      '--log=/p/pause.log',
      '--log-format=json',
      'run',
      '--detach',
      '--pid-file',
      '/b/pidfile',
      '--bundle',
      '/b',
      'ID',
    ]);
  });
});
