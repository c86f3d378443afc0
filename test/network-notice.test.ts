// cribd (crib daemon) says at start which pod network it uses, and warns when its own bridge settings
// (--bridge, --subnet) are overridden by a CNI config in --cni-conf-dir: pods would otherwise land on
// another network with no word in the log.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Harness } from '../support/harness.js';

describe("cribd's start-up word on the pod network", () => {
  const harnesses: Harness[] = [];
  after(async () => {
    for (const h of harnesses) await h.cleanup();
  });

  it("names crib's built-in bridge with its bridge and subnet when the directory is empty", async () => {
    const h = new Harness();
    harnesses.push(h);
    await h.start();
    const log = fs.readFileSync(h.logFile, 'utf8');
    assert.match(
      log,
      new RegExp(`pod network ${h.networkName} from crib's built-in bridge .*bridge="?${h.bridge}"? .*subnet="?${h.subnet.replace(/\./g, '\\.')}`),
    );
    assert.doesNotMatch(log, /ignored: the CNI config/);
  });

  it('warns that --bridge and --subnet are ignored when a CNI config comes first, naming the file', async () => {
    const h = new Harness();
    harnesses.push(h);
    fs.mkdirSync(h.cniConfDir, { recursive: true });
    const conf = path.join(h.cniConfDir, '10-other.conflist');
    fs.writeFileSync(
      conf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `other-${h.id}`,
        plugins: [
          {
            type: 'bridge',
            bridge: h.bridge,
            isGateway: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: h.subnet }]], dataDir: path.join(h.root, 'cni', 'networks') },
          },
        ],
      }),
    );
    await h.start();
    const log = fs.readFileSync(h.logFile, 'utf8');
    assert.match(log, new RegExp(`pod network other-${h.id} from ${conf}`));
    assert.match(
      log,
      new RegExp(
        `warn .*--network-name, --bridge, --subnet(, --ip-masq)? ignored: the CNI config ${conf} in ${h.cniConfDir} comes before crib's built-in bridge`,
      ),
    );
  });
});
