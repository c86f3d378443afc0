// Waiting that a signal cuts short: Ctrl-C (or SIGTERM) tears everything down, and a Job that is
// over stops its pods, without leaving timers or listeners behind.

/** Thrown where a signal interrupted the flow; the pod is torn down and crib exits 128 + the signal. */
export class Aborted extends Error {
  override readonly name = 'Aborted';
  constructor() {
    super('interrupted');
  }
}

/** Resolves after `ms`, or rejects with Aborted as soon as the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Aborted());
    const onAbort = () => {
      clearTimeout(t);
      reject(new Aborted());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for `p` unless the signal fires first (the call itself goes on; nothing depends on it then). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export const throwIfAborted = (signal: AbortSignal): void => {
  if (signal.aborted) throw new Aborted();
};
