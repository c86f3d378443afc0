// kind: StatefulSet (apps/v1): pods NAME-ORDINAL with their own hostname and their own claims
// (volumeClaimTemplates: TEMPLATE-SET-ORDINAL), started in order (OrderedReady) and removed
// highest ordinal first.
import { dnsLabel, type Json } from '../manifest/fields.js';
import { templateHash } from '../manifest/names.js';
import { parseClaim } from '../manifest/objects.js';
import { INT32 } from '../manifest/workload.js';
import type { Volume } from '../volumes/volume-spec.js';
import { runOrdered } from '../controllers/ordered.js';
import { parseApps, replicaPods } from './apps.js';
import { LABEL_POD_INDEX, LABEL_REVISION_HASH, LABEL_STS_POD_NAME } from './labels.js';
import { editSource } from './shape.js';
import { workloadModule } from './workload-module.js';

/** The name a StatefulSet's claim template gets for one pod. */
export const setClaimName = (template: string, set: string, ordinal: number): string => `${template}-${set}-${ordinal}`;

export const statefulSetKind = workloadModule('StatefulSet', {
  parse: (f, warnings) =>
    parseApps('StatefulSet', f, warnings, {
      // A template's claim is the Set's: its namespace, and no apiVersion or kind needed.
      claims: (s, namespace) => s.list('volumeClaimTemplates', (item, p) => ({ ...parseClaim(s.item(item, p), { template: true }), namespace })),
      extend(s, w, claimTemplates) {
        // The governing Service: a headless one gives each pod HOSTNAME.SERVICE (../services).
        const serviceName = s.str('serviceName');
        w.statefulSet = {
          ...(serviceName ? { serviceName: dnsLabel(s.field('serviceName'), serviceName) } : {}),
          ordered: s.oneOf('podManagementPolicy', ['OrderedReady', 'Parallel'] as const, 'OrderedReady') === 'OrderedReady',
          ordinalsStart: s.sub('ordinals', (o) => o.int('start', 0, INT32)) ?? 0,
          claimTemplates,
        };
      },
    }),
  shape(w, shape, _random, slot) {
    const t = w.template;
    const ordinal = slot.ordinal ?? 0;
    const name = `${w.name}-${ordinal}`;
    const labels = {
      ...shape.labels,
      [LABEL_REVISION_HASH]: `${w.name}-${templateHash({ metadata: { labels: t.labels }, spec: t.source })}`,
      [LABEL_STS_POD_NAME]: name,
      [LABEL_POD_INDEX]: String(ordinal),
    };
    const claims = (w.statefulSet?.claimTemplates ?? []).map((c) => ({ name: c.name, claimName: setClaimName(c.name, w.name, ordinal) }));
    const own = new Set(claims.map((c) => c.name));
    const volumes = claims.map((c): Volume => ({ name: c.name, persistentVolumeClaim: { claimName: c.claimName, readOnly: false } }));
    const spec = { ...shape.spec, hostname: name, volumes: [...shape.spec.volumes.filter((v) => !own.has(v.name)), ...volumes] };
    const source = editSource(shape.source, (s) => {
      s['hostname'] = name;
      const vols = (Array.isArray(s['volumes']) ? (s['volumes'] as Record<string, Json>[]) : []).filter((v) => !own.has(String(v['name'])));
      s['volumes'] = [...vols, ...claims.map((c) => ({ name: c.name, persistentVolumeClaim: { claimName: c.claimName } }))];
    });
    return { ...shape, name, labels, spec, source };
  },
  initialPods: replicaPods,
  run: runOrdered,
  teardown: 'highest-ordinal-first',
});
