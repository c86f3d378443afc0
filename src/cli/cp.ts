// crib cp, as kubectl cp does it: through the streaming Exec of `tar` in the container. From the
// container, `tar cf - SRC` and its stream unpacked here by untar-contained.ts (hostile input);
// to it, a tar of the local path with its top entry named as the destination, unpacked there by
// `tar -xmf - -C DIR` (what the container does with it is the container's business).
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as tar from 'tar';
import { resolveContainerWord } from './address.js';
import { call } from '../client/client.js';
import type { Command } from './command.js';
import type { ClientContext } from '../client/context.js';
import { CliError, UsageError } from '../client/errors.js';
import { containedUntar, memberPrefix } from './untar-contained.js';
import type { Container__Output } from '../cri/generated/runtime/v1/Container.js';

/** What of the command's stderr is kept for an error message. */
const STDERR_KEPT = 64 * 1024;

interface Remote {
  pod: string;
  path: string;
}

/**
 * `POD:PATH` (POD an id, prefix, name, POD/CONTAINER or KIND/NAME) or a local path. As kubectl, a
 * word with a colon is remote unless it starts with `/` or `.` (a local path with a colon: `./a:b`). Pure.
 */
export function parseCpWord(word: string): Remote | string {
  const i = word.indexOf(':');
  if (i <= 0 || word.startsWith('/') || word.startsWith('.')) return word;
  return { pod: word.slice(0, i), path: word.slice(i + 1) };
}

/** A Writable that keeps the first STDERR_KEPT bytes written to it. */
function keeper(): { stream: Writable; text: () => string } {
  const kept: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (size < STDERR_KEPT) kept.push(chunk.subarray(0, STDERR_KEPT - size));
      size += chunk.length;
      done();
    },
  });
  return { stream, text: () => Buffer.concat(kept).toString('utf8').trim() };
}

/** The runtime's and tar's ways of saying there is no tar to run. */
const NO_TAR = /executable file not found|no such file or directory.*tar|tar: not found|exec: "?tar"?:/i;

/** Runs `cmd` in the container through the streaming Exec, with the given streams; its exit code and stderr. */
async function execStreaming(
  ctx: ClientContext,
  c: Container__Output,
  cmd: string[],
  io: { stdin?: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; signal?: AbortSignal },
): Promise<{ code: number; stderr: string }> {
  const { url } = await call(ctx.clients.runtime, 'Exec', { container_id: c.id, cmd, tty: false, stdin: !!io.stdin, stdout: true, stderr: true });
  const err = keeper();
  const { runSession } = await import('./streaming-client.js');
  let code: number;
  try {
    code = await runSession(url, { ...io, stderr: err.stream });
  } catch (e) {
    if (io.signal?.aborted) return { code: -1, stderr: err.text() };
    const message = e instanceof Error ? e.message : String(e);
    if (NO_TAR.test(message)) throw noTar(c, message);
    throw e;
  }
  if ((code === 126 || code === 127 || code === 255) && NO_TAR.test(err.text())) throw noTar(c, err.text());
  return { code, stderr: err.text() };
}

function noTar(c: Container__Output, detail: string): CliError {
  return new CliError(
    `crib cp runs tar in the container, as kubectl cp does, and container "${c.metadata?.name ?? c.id}" has none (${detail.split('\n')[0]}); copy through crib exec instead, e.g. crib exec POD -- cat FILE > FILE`,
  );
}

async function copyFromContainer(ctx: ClientContext, c: Container__Output, src: string, dest: string): Promise<void> {
  const abort = new AbortController();
  let failure: Error | undefined;
  const sink = containedUntar(dest, memberPrefix(src), (line) => ctx.err.write(`${line}\n`));
  const stdout = new Writable({
    write(chunk: Buffer, _enc, done) {
      try {
        sink.write(chunk);
        done();
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
        abort.abort();
        done();
      }
    },
  });
  const { code, stderr } = await execStreaming(ctx, c, ['tar', 'cf', '-', src], { stdout, signal: abort.signal });
  const finished = sink.end();
  if (failure) throw failure;
  if (code !== 0) throw new CliError(`tar in the container failed (exit ${code})${stderr ? `: ${stderr}` : ''}`);
  if (!finished) throw new CliError('the archive from the container ended before its end');
}

/** Whether PATH is a directory in the container (`test -d`, as kubectl asks; a container that cannot answer: no). */
async function isDirectoryThere(ctx: ClientContext, c: Container__Output, p: string): Promise<boolean> {
  try {
    return (await call(ctx.clients.runtime, 'ExecSync', { container_id: c.id, cmd: ['test', '-d', p], timeout: 30 }, 60)).exit_code === 0;
  } catch {
    return false;
  }
}

async function copyToContainer(ctx: ClientContext, c: Container__Output, src: string, dest: string): Promise<void> {
  const st = fs.lstatSync(src, { throwIfNoEntry: false });
  if (!st) throw new CliError(`${src}: no such file or directory`);
  // kubectl's rule: into DEST when it is a directory there (or ends with /), else as DEST
  let target = dest.replace(/\/+$/, '') || '/';
  const isDir = dest.endsWith('/') || (await isDirectoryThere(ctx, c, target));
  if (isDir) target = path.posix.join(target, path.basename(path.resolve(src)));
  const base = path.posix.basename(target);
  if (!base || base === '..' || base === '.') throw new UsageError(`"${dest}" names no file to copy to`);
  const local = path.resolve(src);
  const from = path.basename(local);
  const pack = tar.c(
    {
      cwd: path.dirname(local),
      portable: true,
      // the top entry is named as the destination: tar -C DIR unpacks it there
      onWriteEntry: (e) => {
        e.path = base + e.path.slice(from.length);
      },
    },
    [from],
  );
  const out = keeper();
  const { code, stderr } = await execStreaming(ctx, c, ['tar', '-xmf', '-', '-C', path.posix.dirname(target)], {
    stdin: pack as unknown as NodeJS.ReadableStream,
    stdout: out.stream,
  });
  if (code !== 0) throw new CliError(`tar in the container failed (exit ${code})${stderr || out.text() ? `: ${stderr || out.text()}` : ''}`);
}

export const cpCommand: Command = {
  name: 'cp',
  synopsis: '[-c CONTAINER] SRC DEST',
  summary: 'Copy files and directories to and from a container, as kubectl cp: one of SRC and DEST is POD:PATH.',
  details: [
    "  -c, --container NAME  the pod's container (default: as crib exec picks it)",
    '',
    'It runs tar in the container (tar cf - to read, tar -xmf - to write), as kubectl cp does, so the',
    'container needs a tar. Read from a container, DEST becomes SRC (a file, or a directory and what',
    'is below it); written to one, a DEST that is a directory there (or ends with /) gets SRC inside it.',
    'What comes out of the container is kept below DEST: entries outside SRC, absolute or with "..",',
    'or to be written through a symlink are refused; symlinks, hard links and devices are skipped with',
    'a warning (as kubectl); permissions are kept without setuid/setgid; no more bytes than DEST has free.',
    '',
    'POD is a pod (id, prefix or name), KIND/NAME (deployment/web) or POD/CONTAINER.',
    '',
    'Examples:',
    '  crib cp web-7d9c:/etc/nginx/nginx.conf ./nginx.conf   a file from the pod',
    '  crib cp ./site web-7d9c:/usr/share/nginx/html -c web  a directory into container web',
    '  crib cp deployment/web:/var/log ./logs                a directory from a pod of deployment web',
  ].join('\n'),
  flags: { value: ['container'], alias: { c: 'container' } },
  async run(args, ctx) {
    const [a, b, extra] = args.positional;
    if (a === undefined || b === undefined) throw new UsageError('crib cp wants SRC and DEST, one of them POD:PATH');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const src = parseCpWord(a);
    const dest = parseCpWord(b);
    if (typeof src === typeof dest) throw new UsageError('one of SRC and DEST must be POD:PATH, the other a local path');
    const remote = (typeof src === 'string' ? dest : src) as Remote;
    if (!remote.path) throw new UsageError(`"${typeof src === 'string' ? b : a}": the path in the container is empty`);
    const { container } = await resolveContainerWord(ctx, remote.pod, args.get('container'));
    if (typeof src === 'string') await copyToContainer(ctx, container, src, remote.path);
    else await copyFromContainer(ctx, container, src.path, dest as string);
    return 0;
  },
};
