// The Services of one run, kept current in every pod's hosts file: told when a pod gets its IP,
// becomes ready or unready, or goes away, it works out the lines the Services now give
// (service-hosts.ts) and changes every pod's file by the difference, one change at a time.
import path from 'node:path';
import { maxHostsFileSize, PodHostsFile } from './hosts-file.js';
import type { HostAlias } from '../manifest/pod-spec.js';
import { podHostsHeader } from './pod-hosts.js';
import { serviceHostLines, type PodEndpoint } from './service-hosts.js';
import type { Service } from './service.js';

/** kubelet's name for the managed hosts file in the pod's directory. */
export const HOSTS_FILE = 'etc-hosts';

export interface HostsPod extends PodEndpoint {
  /** The pod's own directory (crib run's, under the runtime's root): the file goes there. */
  dir?: string;
  hostAliases?: readonly HostAlias[];
}

export class ServiceNames {
  private readonly pods = new Map<string, PodEndpoint>();
  private readonly files = new Map<string, PodHostsFile>();
  private lines = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly services: readonly Service[],
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A pod has its IP (`key`: its uid). With `dir`, its hosts file is made there with the current
   * lines (before its containers start) and its path returned, to mount as /etc/hosts. A file there
   * already is one an earlier process made for the same pod (a supervisor takes the pod over): it
   * is read back and brought up to date.
   */
  addPod(key: string, pod: HostsPod): Promise<string | undefined> {
    const { dir, hostAliases, ...ep } = pod;
    return this.serially(async () => {
      this.pods.set(key, ep);
      let made: string | undefined;
      if (dir) {
        const header = podHostsHeader({
          ip: ep.ip,
          hostname: ep.hostname ?? ep.name,
          namespace: ep.namespace,
          ...(ep.subdomain ? { subdomain: ep.subdomain } : {}),
          ...(hostAliases ? { hostAliases } : {}),
        });
        const at = path.join(dir, HOSTS_FILE);
        const file = await PodHostsFile.create(at, header, this.lines, this.now()).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
          return PodHostsFile.open(at, header, this.lines, maxHostsFileSize(header.length, this.services.length), this.now());
        });
        this.files.set(key, file);
        made = file.path;
      }
      await this.refresh();
      return made;
    });
  }

  /** The pod's readiness changed. */
  setReady(key: string, ready: boolean): void {
    void this.serially(async () => {
      const p = this.pods.get(key);
      if (!p || p.ready === ready) return;
      this.pods.set(key, { ...p, ready });
      await this.refresh();
    }).catch(this.onError);
  }

  /** The pod is going: its names go from every file, and its own file is no longer written. */
  removePod(key: string): Promise<void> {
    return this.serially(async () => {
      this.files.delete(key);
      if (!this.pods.delete(key)) return;
      await this.refresh();
    });
  }

  /** Once every change asked for so far is written. */
  settled(): Promise<void> {
    return this.queue;
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step);
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async refresh(): Promise<void> {
    const want = serviceHostLines(this.services, [...this.pods.values()]);
    const removed = [...this.lines].filter((l) => !want.has(l));
    const added = [...want].filter((l) => !this.lines.has(l));
    this.lines = want;
    if (!removed.length && !added.length) return;
    const now = this.now();
    await Promise.all([...this.files.values()].map((f) => f.apply(removed, added, now)));
  }
}
