// cribd's configuration file (src/config.ts): merged over the defaults, unknown keys refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfigFile, defaultConfig, validateConfig } from '../../src/config.js';

describe('daemon config', () => {
  it('merges a YAML file over the defaults and validates it', () => {
    const c = applyConfigFile(defaultConfig, 'runtime: crun\nnetwork:\n  bridge: br9\n  ipMasq: false\ncniBinDirs: [/a, /b]\n', 'f');
    assert.equal(c.runtime, 'crun');
    assert.equal(c.network.bridge, 'br9');
    assert.equal(c.network.ipMasq, false);
    assert.deepEqual(c.cniBinDirs, ['/a', '/b']);
    assert.equal(defaultConfig.network.bridge, 'crib0', 'defaults untouched');
    assert.throws(() => applyConfigFile(defaultConfig, 'sokcet: /x', 'f'), /sokcet: unknown key/);
    assert.throws(() => validateConfig({ ...defaultConfig, root: 'relative' }), /root/);
  });
  it('takes the log format and whether the built-in network is used', () => {
    const c = applyConfigFile(defaultConfig, 'logFormat: json\nnetwork:\n  builtin: false\n', 'f');
    assert.equal(validateConfig(c).logFormat, 'json');
    assert.equal(c.network.builtin, false);
    assert.throws(() => validateConfig({ ...defaultConfig, logFormat: 'xml' as 'json' }), /logFormat/);
    assert.throws(() => applyConfigFile(defaultConfig, 'network:\n  builtin: "no"\n', 'f'), /network.builtin/);
  });
});
