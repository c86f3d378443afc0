// crib run's manifest input is bounded before it is parsed: a 56 MB YAML took the CLI 24 s and
// 2.4 GB. Built as an attacker builds it: a file of valid ConfigMaps, and an endless stdin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManifestTooLarge, readBounded, readManifest } from '../../src/kube/manifest/input.js';
import { repoRoot } from '../../src/util/paths.js';

/** The API server's limit on one request body (MaxRequestBodyBytes). */
const API_SERVER_REQUEST = 3 * 1024 * 1024;

/** `bytes` of YAML: ConfigMaps of 1000-byte values, each a valid document. */
function configMaps(bytes: number): string {
  const doc = (i: number) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\ndata: {k: "${'x'.repeat(1000)}"}\n---\n`;
  const parts: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) n += (parts[parts.length] = doc(i)).length;
  return parts.join('').slice(0, bytes);
}

function crib(args: string[], stdin: string | Buffer): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A socket nobody serves: the manifest is refused before crib run speaks to a runtime.
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'crib'), '--socket', '/nonexistent/crib.sock', ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {}); // it stops reading, as it should
    child.stdin.end(stdin);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('crib run: manifest input', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-manifest-'));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it('reads a file up to the API server request limit, and refuses one byte more by its size', async () => {
    const atLimit = configMaps(API_SERVER_REQUEST);
    assert.equal(await readManifest(file('limit.yaml', atLimit)), atLimit);
    await assert.rejects(
      readManifest(file('over.yaml', configMaps(API_SERVER_REQUEST + 1))),
      (e: unknown) => e instanceof ManifestTooLarge && e.message.startsWith(`${API_SERVER_REQUEST + 1} bytes, more than the 3 MiB`),
    );
  });

  it('stops reading an endless stream one chunk past the bound', async () => {
    let read = 0;
    async function* endless() {
      for (;;) {
        read += 64 * 1024;
        yield Buffer.alloc(64 * 1024, 'a');
      }
    }
    await assert.rejects(readBounded(endless()), ManifestTooLarge);
    assert.ok(read <= API_SERVER_REQUEST + 64 * 1024, `read ${read} bytes`);
  });

  it('the CLI refuses a 56 MB manifest, from a file or stdin, with exit 2 and the bound', async () => {
    const big = configMaps(56 * 1024 * 1024);
    const fromFile = await crib(['run', '-f', file('big.yaml', big)], '');
    assert.equal(fromFile.code, 2, fromFile.stderr);
    assert.match(fromFile.stderr, /^crib run: .*big\.yaml: 58720256 bytes, more than the 3 MiB \(3145728 bytes\) the API server takes in one request\n$/);
    const fromStdin = await crib(['run', '-f', '-'], big);
    assert.equal(fromStdin.code, 2, fromStdin.stderr);
    assert.match(fromStdin.stderr, /^crib run: stdin: more than the 3 MiB/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
