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
  it('reads every section by one schema: each value its type, each unknown key refused by its full name', () => {
    const c = applyConfigFile(
      defaultConfig,
      'streaming:\n  port: 10010\n  address: 0.0.0.0\nregistries:\n  mirrors:\n    docker.io: [https://m:5000]\n  insecure: [r:5000]\n',
      'f',
    );
    assert.equal(c.streaming.port, 10010);
    assert.equal(c.streaming.address, '0.0.0.0');
    assert.deepEqual(c.registries, { mirrors: { 'docker.io': ['https://m:5000'] }, insecure: ['r:5000'], caFiles: [] });
    assert.deepEqual(defaultConfig.registries.insecure, [], 'defaults untouched');
    const refused: [string, RegExp][] = [
      ['streaming:\n  port: "10010"\n', /config streaming\.port: must be a number$/],
      ['streaming:\n  tlsCert: 1\n', /config streaming\.tlsCert: must be a string$/],
      ['streaming:\n  portt: 1\n', /config streaming\.portt: unknown key$/],
      ['network:\n  ipMasq: yes please\n', /config network\.ipMasq: must be true or false$/],
      ['network: [a]\n', /config network: must be a mapping$/],
      ['registries:\n  mirrors: [a]\n', /config registries\.mirrors: must map/],
      ['registries:\n  mirrors:\n    docker.io: m\n', /config registries\.mirrors\.docker\.io: must be a list of strings$/],
      ['registries:\n  caFiles: [1]\n', /config registries\.caFiles: must be a list of strings$/],
      ['cniBinDirs: /a\n', /config cniBinDirs: must be a list of strings$/],
      ['root: 1\n', /config root: must be a string$/],
      ['toString: x\n', /config toString: unknown key$/],
      ['network:\n  constructor: x\n', /config network\.constructor: unknown key$/],
    ];
    for (const [text, message] of refused) assert.throws(() => applyConfigFile(defaultConfig, text, 'f'), message, text);
  });
});
