// A manifest: the YAML documents of one or several files, in any order, each of a kind of the
// table (../kinds/table.ts: a Pod, a controller, a ConfigMap, a Secret, a PersistentVolumeClaim,
// ...) or a List of them. Kinds crib does not run (Ingress, ...) are warned about. Pure: the
// files' text in, typed objects and warnings out.
import { parseAllDocuments } from 'yaml';
import { Fields, isMap, ManifestError, nearest, type Json } from './fields.js';
import type { Claim, DataObject } from './objects.js';
import { describe } from '../quantity/quantity.js';
import { kindModule, runKindNames } from '../kinds/table.js';
import type { Workload } from './workload.js';

export interface Manifest {
  /** Pods and controllers, in the order the documents give them. */
  workloads: Workload[];
  /** ConfigMaps and Secrets by `KIND/NAMESPACE/NAME`. */
  objects: Map<string, DataObject>;
  /** PersistentVolumeClaims by `NAMESPACE/NAME`. */
  claims: Map<string, Claim>;
  /** One line each, without the "warning: " prefix: `spec.containers[0].stdin is not supported by crib run; ignored`. */
  warnings: string[];
  /** Documents of kinds crib does not run (Ingress, ...), one line each as `warnings`. */
  ignoredKinds: string[];
  /** Documents of kinds that keep their own items (Service, CronJob), by kind: ../kinds/kind.ts itemsOf. */
  others: Map<string, object[]>;
}

export const objectKey = (kind: DataObject['kind'], namespace: string, name: string): string => `${kind}/${namespace}/${name}`;
export const claimKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export const emptyManifest = (): Manifest => ({ workloads: [], objects: new Map(), claims: new Map(), warnings: [], ignoredKinds: [], others: new Map() });

/** A kind crib does not run is ignored (said in a warning); one a letter or two from a kind it runs is a typo (an error). */
function ignoredKind(where: string, kind: Json, path: string): string {
  const near = typeof kind === 'string' ? nearest(kind, runKindNames()) : undefined;
  if (near) throw new ManifestError(path ? `${path}.kind` : 'kind', `unknown kind ${JSON.stringify(kind)} (did you mean ${near}?)`);
  return `${where} (kind ${JSON.stringify(kind)}) is not supported by crib run; ignored`;
}

/** Adds one object (a map with apiVersion and kind) read at `path`; its warnings are prefixed with `where`. */
function addObject(into: Manifest, value: Record<string, Json>, path: string, where: string): void {
  const kind = value['kind'];
  const own: string[] = [];
  const f = new Fields(path, value, own);
  if (kind === undefined || kind === null) throw new ManifestError(path ? `${path}.kind` : 'kind', `required (one of ${runKindNames().join(', ')})`);
  const module = typeof kind === 'string' ? kindModule(kind) : undefined;
  const document = path ? `${where}${path}` : where ? where.replace(/: $/, '') : 'the document';
  if (module) module.read(into, f, { warnings: own, nameField: path ? `${path}.metadata.name` : 'metadata.name', document });
  else into.ignoredKinds.push(`${where}${ignoredKind(path || 'the document', kind, path)}`);
  into.warnings.push(...own.map((w) => `${where}${w}`));
}

/**
 * Where a "mapping items must start at the same column" error at `line` (1-based) comes from, when
 * it is not there: a line less indented than it and than the siblings before it (`containers:` at
 * column 1 inside a spec) closes their block, and the parser only stumbles on the next sibling,
 * maybe 40 lines on. Undefined when `line` itself is the one out of line.
 */
export function misindentedLine(text: string, line: number): { line: number; col: number; text: string } | undefined {
  const lines = text.split('\n');
  const indent = (l: string) => l.length - l.trimStart().length;
  const content = (n: number) => {
    const l = lines[n - 1] ?? '';
    return l.trim() !== '' && !l.trimStart().startsWith('#');
  };
  const k = indent(lines[line - 1] ?? '');
  let p = line - 1;
  while (p >= 1 && (!content(p) || indent(lines[p - 1] ?? '') >= k)) p--;
  if (p < 1) return undefined;
  let before = p - 1;
  while (before >= 1 && !content(before)) before--;
  if (before < 1 || indent(lines[before - 1] ?? '') !== k) return undefined;
  const l = lines[p - 1] ?? '';
  return { line: p, col: indent(l) + 1, text: l.trim().slice(0, 60) };
}

/** Parses one file's documents into `into` (a fresh manifest by default). */
export function parseManifests(text: string, into: Manifest = emptyManifest()): Manifest {
  // YAML 1.1, as kubectl reads manifests: `defaultMode: 0644` is octal, `yes` a boolean.
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: Json[] = [];
  for (const [i, doc] of list.entries()) {
    // The first error in the text, not in the parser's list (which may name a later one first).
    const err = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0];
    if (err) {
      const at = err.linePos?.[0];
      const culprit = at && err.code === 'BAD_INDENT' ? misindentedLine(text, at.line) : undefined;
      const where =
        culprit && at
          ? ` at line ${culprit.line}, column ${culprit.col} ("${culprit.text}"): its indentation ends the block above it, so line ${at.line} no longer lines up with its siblings`
          : at
            ? ` at line ${at.line}, column ${at.col}`
            : '';
      throw new ManifestError('', `malformed YAML${list.length > 1 ? ` in document ${i + 1}` : ''}${where}: ${err.message.split('\n')[0]}`);
    }
    values.push(doc.toJS({ maxAliasCount: 100 }) as Json);
  }
  const present = values.map((v, i) => [v, i] as const).filter(([v]) => v !== null && v !== undefined);
  const several = present.length > 1;
  for (const [value, i] of present) {
    const where = several ? `document ${i + 1}: ` : '';
    try {
      if (!isMap(value)) throw new ManifestError('', `expected a Kubernetes object (a map with apiVersion, kind, ...), got ${describe(value)}`);
      const kind = value['kind'];
      if (typeof kind === 'string' && kind.endsWith('List')) {
        const listWarnings: string[] = [];
        const lf = Fields.of(value, '', listWarnings);
        lf.str('apiVersion');
        lf.str('kind');
        lf.accept('metadata');
        const items = lf.list('items', (item, path) => [item, path] as const);
        lf.done();
        into.warnings.push(...listWarnings.map((w) => `${where}${w}`));
        for (const [item, path] of items) {
          if (!isMap(item)) throw new ManifestError(path, `expected a Kubernetes object, got ${describe(item)}`);
          addObject(into, item, path, where);
        }
      } else if (typeof kind === 'string' && !kindModule(kind)) {
        into.ignoredKinds.push(ignoredKind(several ? `document ${i + 1}` : 'the document', kind, ''));
      } else {
        addObject(into, value, '', where);
      }
    } catch (err) {
      if (err instanceof ManifestError && where) throw new ManifestError(`${where}${err.field}`.replace(/: $/, ''), err.reason);
      throw err;
    }
  }
  return into;
}
