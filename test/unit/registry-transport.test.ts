// The registry client's HTTP transport: the system's CAs are parsed (about 1 MiB held) only when a
// request needs to verify a certificate; an unreadable extra CA file still fails at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { HttpTransport } from '../../src/image/registry/http.js';

const options = { caFiles: [], insecure: [], timeoutMs: 5000, userAgent: 'test', systemCaFile: '/etc/ssl/certs/ca-certificates.crt' };

/** A port nothing listens on (a listener opened and closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('the verifying secure context is made at the first HTTPS request, once', async (t) => {
  const real = tls.createSecureContext;
  let made = 0;
  tls.createSecureContext = (o) => (made++, real(o));
  t.after(() => (tls.createSecureContext = real));
  const transport = new HttpTransport(options);
  t.after(() => transport.close());
  assert.equal(made, 0, 'none at start');
  const port = await closedPort();
  await assert.rejects(transport.request({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/v2/`) }));
  assert.equal(made, 0, 'none for plain HTTP');
  for (let i = 0; i < 2; i++) await assert.rejects(transport.request({ method: 'GET', url: new URL(`https://127.0.0.1:${port}/v2/`) }));
  assert.equal(made, 1);
});

test('an unreadable extra CA file fails when the transport is made, naming it', () => {
  assert.throws(() => new HttpTransport({ ...options, caFiles: ['/nonexistent/ca.pem'] }), /registry CA file \/nonexistent\/ca\.pem/);
});
