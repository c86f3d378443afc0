// A registry behind Bearer tokens, as Docker Hub and most public registries are: a front on
// 127.0.0.1 that answers 401 with a Bearer challenge naming its token endpoint (Basic credentials
// or an OAuth2 refresh token buy a token), forwards authorized requests to a real registry, and
// redirects blob GETs to a storage host on 127.0.0.2, which must never see the token.
import http from 'node:http';
import type net from 'node:net';
import { randomBytes } from 'node:crypto';

/** One request to the token endpoint, as the token server saw it. */
export interface TokenRequest {
  method: string;
  authorization?: string;
  scope: string[];
  service: string | null;
  grant?: string;
}

export interface TokenRegistryOptions {
  /** The real registry requests are forwarded to (`http://127.0.0.1:PORT`). */
  upstream: string;
  user: string;
  password: string;
  /** The refresh token (a CRI identity token) the token endpoint takes in an OAuth2 POST. */
  refreshToken: string;
  /** Tokens the registry takes without the token endpoint (a CRI registry token). */
  staticTokens?: string[];
  /** The host the challenge's realm names (default 127.0.0.1; the token server answers there on this port). */
  realmHost?: string;
  /** The token endpoint gives tokens to requests without credentials too. */
  anonymousTokens?: boolean;
}

export interface TokenRegistry {
  /** `127.0.0.1:PORT`, what references name. */
  host: string;
  /** Requests to the token endpoint, in order. */
  tokenRequests: TokenRequest[];
  /** The Authorization header of each request the storage host got (blobs after the redirect). */
  storageAuth: (string | undefined)[];
  close(): Promise<void>;
}

/** Forwards a request to the upstream registry without its credentials, and the answer back. */
function forward(upstream: string, req: http.IncomingMessage, res: http.ServerResponse, pathname: string): void {
  const headers = { ...req.headers };
  delete headers.authorization;
  delete headers.host;
  const up = http.request(`${upstream}${pathname}`, { method: req.method, headers }, (u) => {
    res.writeHead(u.statusCode ?? 502, u.headers);
    u.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

async function listen(server: http.Server, host: string): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as net.AddressInfo).port;
}

export async function startTokenRegistry(o: TokenRegistryOptions): Promise<TokenRegistry> {
  const issued = new Set<string>(o.staticTokens ?? []);
  const tokenRequests: TokenRequest[] = [];
  const storageAuth: (string | undefined)[] = [];
  const basic = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;

  const storage = http.createServer((req, res) => {
    storageAuth.push(req.headers.authorization);
    forward(o.upstream, req, res, new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/storage/, ''));
  });
  const storagePort = await listen(storage, '127.0.0.2');

  let realm = '';
  const front = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      const body: Buffer[] = [];
      req.on('data', (b: Buffer) => body.push(b));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(body).toString());
        const post = req.method === 'POST';
        tokenRequests.push({
          method: req.method ?? '',
          authorization: req.headers.authorization,
          scope: post ? (form.get('scope') ?? '').split(' ') : url.searchParams.getAll('scope'),
          service: post ? form.get('service') : url.searchParams.get('service'),
          ...(post ? { grant: form.get('grant_type') ?? '' } : {}),
        });
        const ok = post
          ? form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === o.refreshToken
          : req.headers.authorization === basic || (o.anonymousTokens === true && req.headers.authorization === undefined);
        if (!ok) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
          return;
        }
        const token = randomBytes(12).toString('hex');
        issued.add(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(post ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 }));
      });
      return;
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !issued.has(bearer)) {
      const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="${realm}",service="crib-test",scope="repository:${repo}:pull"`,
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (req.method === 'GET' && /^\/v2\/.+\/blobs\/sha256:[a-f0-9]{64}$/.test(url.pathname)) {
      res.writeHead(307, { location: `http://127.0.0.2:${storagePort}/storage${url.pathname}` });
      res.end();
      return;
    }
    forward(o.upstream, req, res, url.pathname);
  });
  const port = await listen(front, '127.0.0.1');
  realm = `http://${o.realmHost ?? '127.0.0.1'}:${port}/token`;

  return {
    host: `127.0.0.1:${port}`,
    tokenRequests,
    storageAuth,
    async close() {
      for (const s of [front, storage]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}
