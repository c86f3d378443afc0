import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { defaultConfig, type CribConfig } from './config.js';
import { criServices } from './cri/proto.js';
import { runtimeServiceHandlers } from './cri/runtime-service.js';
import { imageServiceHandlers } from './cri/image-service.js';
import { cribImagesHandlers } from './cri/crib-images-service.js';
import { listenUnix, type UnixListener } from './socket/serve-unix.js';
import { ImageStore } from './image/store.js';
import { installPauseImage } from './image/pause-image.js';
import { ImagePuller } from './image/pull.js';
import { RegistryClient } from './image/registry/client.js';
import { ImageService } from './image/service.js';
import { formatReference, parseReference } from './image/reference.js';
import { NetworkManager } from './network/manager.js';
import { networkNotice } from './network/startup-notice.js';
import { findExecutable } from './oci/find-runtime.js';
import { ConmonRuntime } from './oci/conmon-runtime.js';
import { RuncCli } from './oci/runc.js';
import type { OciRuntime } from './oci/runtime.js';
import { PodService } from './pod/service.js';
import { PodUsageReader } from './pod/usage.js';
import { PodStreams } from './pod/streaming.js';
import { OnDemandStreamingServer } from './streaming/on-demand.js';
import { SandboxService } from './sandbox/service.js';
import { ContainerService } from './container/service.js';
import { nodeContainerHost } from './container/host.js';
import { CribError } from './util/errors.js';
import { ensurePrivateDir, ensureTraversableDir, exists } from './util/fsx.js';
import { probeUserNamespaces } from './host/userns-probe.js';
import { log, setLogFormat, setLogLevel } from './util/log.js';
import { builtPauseBinary } from './util/paths.js';
import { builtinPauseImage, cribVersion } from './version.js';
import { EventBus } from './events/bus.js';
import type { LifecycleNotice } from './pod/events.js';
import { PodEvents } from './pod/events.js';

export interface Daemon {
  config: CribConfig;
  /** For the watchdog: the CRI socket is still there to be served. */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * The OCI runtimes crib can use, by handler name, each under conmon; the configured one is the
 * default. Their state roots are crib's own, so another runc user never sees crib's containers.
 */
function discoverRuntimes(config: CribConfig, conmonPath: string): { runtimes: Map<string, OciRuntime>; defaultName: string } {
  const runtimes = new Map<string, OciRuntime>();
  const add = (name: string, binary: string) =>
    runtimes.set(
      name,
      new ConmonRuntime({
        conmonPath,
        runc: new RuncCli(name, binary, path.join(config.state, 'runtime', name)),
        exitDir: path.join(config.state, 'exits'),
        socketDir: path.join(config.state, 'sockets'),
      }),
    );
  for (const name of ['runc', 'crun']) {
    const p = findExecutable(name);
    if (p) add(name, p);
  }
  const wanted = config.runtime;
  const defaultName = path.basename(wanted);
  if (wanted.includes('/') || !runtimes.has(defaultName)) {
    const p = findExecutable(wanted);
    if (!p) throw new CribError('FailedPrecondition', `OCI runtime "${wanted}" not found`);
    add(defaultName, p);
  }
  return { runtimes, defaultName };
}

/** Starts cribd: stores, reconciliation, the pause image, then the CRI socket. */
export async function startDaemon(config: CribConfig): Promise<Daemon> {
  setLogLevel(config.logLevel);
  setLogFormat(config.logFormat);
  // Everything below ROOT and STATE is root's alone; a socket elsewhere gets a private dir only if crib makes it.
  // STATE and STATE/roots may be passed through (not listed): a user-namespaced pod's root reaches
  // its rootfs there (src/image/idmapped.ts); every other entry of STATE is private.
  for (const dir of [config.root, path.join(config.root, 'images')]) await ensurePrivateDir(dir);
  for (const dir of [config.state, path.join(config.state, 'roots')]) await ensureTraversableDir(dir);
  for (const dir of ['exits', 'sockets', 'runtime', 'netns', 'shm', 'userns']) await ensurePrivateDir(path.join(config.state, dir));
  await fs.mkdir(path.dirname(config.socket), { recursive: true, mode: 0o700 });
  const conmonPath = findExecutable(config.conmon);
  if (!conmonPath) throw new CribError('FailedPrecondition', `conmon "${config.conmon}" not found`);
  const { runtimes, defaultName } = discoverRuntimes(config, conmonPath);
  // What each runtime can do is read once, now, while the rest starts (Status and CreateContainer ask it).
  for (const rt of runtimes.values()) void rt.features();

  const store = new ImageStore(path.join(config.root, 'images'));
  await store.open();
  const pauseImage = config.pauseImage || builtinPauseImage;
  if (pauseImage === builtinPauseImage) {
    if (!(await exists(builtPauseBinary))) {
      throw new CribError('FailedPrecondition', `the pause binary ${builtPauseBinary} is missing: run the build (npm run build)`);
    }
    await installPauseImage(store, builtPauseBinary, builtinPauseImage);
  }
  const pinnedRef = formatReference(parseReference(pauseImage));
  const registry = new RegistryClient(config.registries);
  // The Prometheus endpoint is off unless asked for; then it counts pulls, CRI calls and states
  // (prom-client is loaded only then).
  const metrics = config.metricsAddress ? new (await import('./metrics/crib-metrics.js')).CribMetrics(cribVersion) : undefined;
  const puller = new ImagePuller(store, registry, (ref) => ref === pinnedRef, metrics?.pulls);
  const images = new ImageService(store, puller, registry);

  const { builtin, ...builtinNet } = config.network;
  const network = new NetworkManager({
    confDir: config.cniConfDir,
    binDirs: config.cniBinDirs,
    ...(builtin ? { builtin: { ...builtinNet, ipamDataDir: path.join(config.root, 'cni', 'networks') } } : {}),
    podCidrFile: path.join(config.root, 'pod-cidr'),
  });
  await network.open();
  // Which network pods join, said once at start; a CNI config that overrides crib's bridge settings is warned of
  const notice = networkNotice(await network.status(), config.cniConfDir, builtin ? builtinNet : undefined, defaultConfig.network);
  log.info(notice.info.message, notice.info.fields);
  if (notice.warn) log.warn(notice.warn.message, notice.warn.fields);
  // The services say what happens to sandboxes and containers here; PodEvents adds the pod's state.
  const notices = new EventBus<LifecycleNotice>(4096);
  const sandboxes = new SandboxService({
    root: config.root,
    state: config.state,
    runtimes,
    defaultRuntime: defaultName,
    images,
    pauseImage,
    network,
    cgroupRoot: config.cgroupRoot,
    notices,
  });
  const containers = new ContainerService({ root: config.root, runtimes, images, sandboxes, host: nodeContainerHost, notices });
  const podEvents = new PodEvents(notices, sandboxes, containers);
  const pods = new PodService(sandboxes, containers);
  const st = config.streaming;
  const streaming = new OnDemandStreamingServer({
    runtime: new PodStreams(sandboxes, containers),
    address: st.address,
    port: st.port,
    ...(st.tlsCert ? { tls: { cert: await fs.readFile(st.tlsCert), key: await fs.readFile(st.tlsKey) } } : {}),
    idleTimeoutMs: st.idleTimeoutSeconds * 1000,
  });
  await sandboxes.open();
  await containers.open();

  // Bounds on one client: its messages, and its streams in flight on one connection (kubelet uses tens).
  let usernsProbe: Promise<boolean> | undefined;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.max_concurrent_streams': 1024 });
  const services = criServices();
  server.addService(
    services.runtime,
    runtimeServiceHandlers({
      config,
      sandboxes,
      containers,
      pods,
      usage: new PodUsageReader(sandboxes, containers),
      network,
      runtimeHandlers: () => Promise.all([...runtimes].map(async ([name, rt]) => ({ name, features: await rt.features() }))),
      defaultRuntimeHandler: defaultName,
      userNamespaces: () => (usernsProbe ??= probeUserNamespaces(path.join(config.state, 'userns'), config.root, path.join(config.state, 'roots'))),
      streaming,
      events: podEvents.events,
    }) as grpc.UntypedServiceImplementation,
  );
  server.addService(services.image, imageServiceHandlers(images, store.dir, (id) => pods.imageUser(id)) as grpc.UntypedServiceImplementation);
  server.addService(services.cribImages, cribImagesHandlers(images));
  const metricsEndpoint = metrics
    ? await (await import('./metrics/endpoint.js')).startMetricsEndpoint(metrics, config.metricsAddress, { sandboxes, containers })
    : undefined;
  const listener: UnixListener = await listenUnix(server, config.socket, 0o660);
  log.info('cribd ready', { version: cribVersion, socket: config.socket, runtime: defaultName, pauseImage });

  return {
    config,
    async healthy() {
      return fs.stat(config.socket).then(
        (st) => st.isSocket(),
        () => false,
      );
    },
    async stop() {
      await listener.close();
      server.forceShutdown();
      await streaming.close();
      await metricsEndpoint?.close();
      sandboxes.close();
      containers.close();
      await podEvents.close();
      registry.close();
    },
  };
}
