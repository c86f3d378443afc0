// The heap as a test can measure it: garbage collected first, so growth means memory still held.

import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** `process.memoryUsage().heapUsed` right after a full garbage collection. */
export function heapUsedAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}
