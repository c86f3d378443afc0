/** Polls `cond` every 10 ms until it holds; throws naming `what` (worked out only then) after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string | (() => string | Promise<string>), ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
