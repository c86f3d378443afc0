// kind: Service (v1). Not run yet: ignored with a warning. Its logic goes in ../services; this
// module reads the documents (read, addItem) and starts it beside the workloads (start, PodHooks).
import { ignoredModule } from './ignored.js';

export const serviceKind = ignoredModule('Service');
