// kind: Service (v1). crib has no service proxy: a Service's names resolve straight to its ready
// pods' IPs through each pod's hosts file, and a node port is a host port of the pod it selects.
// The logic is in ../services; this module reads the documents, applies the node ports once all
// are read (complete) and follows the run's pods (hooks).
import { ManifestError } from '../manifest/fields.js';
import { parseService, type Service } from '../services/service.js';
import { planServices } from '../services/service-plan.js';
import { RunServices } from '../services/run-services.js';
import { describeError } from '../../client/errors.js';
import { addItem, itemsOf, type KindModule } from './kind.js';

export const serviceKind: KindModule = {
  kind: 'Service',
  read(into, f, at) {
    const svc = parseService(f);
    if (itemsOf<Service>(into, 'Service').some((x) => x.namespace === svc.namespace && x.name === svc.name)) {
      throw new ManifestError(at.nameField, `Service ${svc.namespace}/${svc.name} is defined twice`);
    }
    addItem(into, 'Service', svc);
  },
  complete(m) {
    const plan = planServices(itemsOf<Service>(m, 'Service'), m.workloads);
    m.workloads = plan.workloads;
    m.warnings.push(...plan.warnings);
    return plan.notes;
  },
  hooks(m, run) {
    const services = itemsOf<Service>(m, 'Service');
    // The managed hosts file also carries hostAliases, as kubelet's does.
    if (!services.length && !m.workloads.some((w) => w.template.spec.hostAliases)) return undefined;
    const onError = (err: unknown) => run.say(`updating the Services' names failed: ${describeError(err)}`);
    return new RunServices(services, m.workloads, onError).hooks(run.root, onError);
  },
};
