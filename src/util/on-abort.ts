// Work to do when a signal fires, also when it has fired already: a listener added to a signal that
// aborted earlier is never called, so code that awaited anything between receiving a signal and
// listening to it would miss a caller that went away meanwhile (and leak what it then started).

/** Runs `fn` once `signal` aborts (at once if it has); returns what stops listening. */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
