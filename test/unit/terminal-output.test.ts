// What the CLI prints from a container or a request cannot drive the terminal: a process whose
// arguments hold escape sequences (set the title, clear the screen, move the cursor) is drawn with
// them shown as \xNN. The tree is built as `crib tree` gathers it from a hostile container.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientContext } from '../../src/client/context.js';
import { drawTree, type PodTree, type ProcessInfo } from '../../src/cli/tree.js';
import { renderTable, terminalSafe } from '../../src/cli/output.js';

const plain = { color: false } as ClientContext;
const colour = { color: true } as ClientContext;
// OSC 0 (window title), ED 2 (clear screen), C1 CSI, a carriage return that overwrites the line, DEL.
const hostile = 'sh \x1b]0;owned\x07 \x1b[2J \x9b31m \rfake\x7f';
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const controls = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

const proc = (pid: number, command: string): ProcessInfo => ({ pid, ppid: 1, command, namespaces: { net: { inode: 'net:[1]', shared: 'pause' } } });

function tree(s: string): PodTree {
  return {
    pod: { id: `${s}id`, name: `${s}pod`, namespace: `${s}ns`, uid: 'u', state: 'Ready', ip: '10.0.0.2', additionalIps: [s] },
    netns: {
      path: `/run/netns/${s}`,
      inode: 'net:[1]',
      interfaces: [
        {
          index: 2,
          name: `eth0${s}`,
          kind: 'veth',
          state: 'UP',
          mac: 'm',
          addresses: [`10.0.0.2/24${s}`],
          peerIndex: 9,
          hostPeer: { index: 9, name: `veth${s}`, master: `br${s}` },
        },
      ],
      error: s,
    },
    userns: null,
    pause: { pid: 10, image: `pause${s}`, processes: [proc(10, `/pause ${s}`)] },
    containers: [{ id: `${s}cid`, name: `app${s}`, state: 'Running', pid: 11, processes: [proc(11, hostile), proc(12, s)] }],
  };
}

describe('terminal-safe output', () => {
  it('crib tree shows the control characters of every string it gathered, never sends them', () => {
    const out = drawTree(plain, tree(hostile));
    assert.doesNotMatch(out, controls);
    assert.match(out, /pid 11 {2}sh \\x1b\]0;owned\\x07 \\x1b\[2J \\x9b31m \\x0dfake\\x7f/);
    // With colour on, the only escapes are crib's own styles.
    // eslint-disable-next-line no-control-regex -- crib's own SGR codes, taken out
    const coloured = drawTree(colour, tree(hostile)).replace(/\x1b\[\d+m/g, '');
    assert.doesNotMatch(coloured, controls);
  });
  it('tables escape every cell, and pad by what is printed', () => {
    const out = renderTable(plain, ['NAME', 'STATE'], [[`a\x1b[2Jb`, 'Running']]);
    assert.doesNotMatch(out, controls);
    assert.equal(out.split('\n')[1], 'a\\x1b[2Jb   Running');
    assert.equal(terminalSafe('tab\tnew\nline é ✓'), 'tab\\x09new\\x0aline é ✓');
  });
});
