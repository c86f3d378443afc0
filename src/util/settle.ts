/** Waits for every step (so none still runs during a rollback), then throws the first failure. */
export async function settleAll(steps: readonly (Promise<unknown> | undefined)[]): Promise<void> {
  const failed = (await Promise.allSettled(steps.filter((s) => s !== undefined))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
