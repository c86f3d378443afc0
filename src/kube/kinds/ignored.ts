// A kind crib run knows but does not run yet: its documents are said to be ignored.
import type { KindModule } from './kind.js';

export function ignoredModule(kind: string): KindModule {
  return {
    kind,
    ignored: true,
    read(into, _f, at) {
      into.ignoredKinds.push(`${at.document} (kind ${JSON.stringify(kind)}) is not supported by crib run; ignored`);
    },
  };
}
