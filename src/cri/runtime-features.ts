// What Status announces: the features of each runtime handler and of the runtime as a whole. critest
// and kubelet use a feature only when it is announced, so only what works is here.
import type { HandlerFeatures } from '../oci/features.js';
import type { RuntimeFeatures } from './generated/runtime/v1/RuntimeFeatures.js';
import type { RuntimeHandler } from './generated/runtime/v1/RuntimeHandler.js';
import type { RuntimeHandlerFeatures } from './generated/runtime/v1/RuntimeHandlerFeatures.js';

/**
 * A handler's features in the CRI's terms; every field of RuntimeHandlerFeatures is answered here.
 * User namespaces are the node's to offer (idmapped mounts, STATE reachable), whatever the handler.
 */
export function toHandlerFeatures(f: HandlerFeatures, userNamespaces: boolean): Required<RuntimeHandlerFeatures> {
  return { recursive_read_only_mounts: f.recursiveReadOnlyMounts, user_namespaces: userNamespaces };
}

/** The runtime's own features (RuntimeFeatures). */
export const runtimeFeatures: Required<RuntimeFeatures> = {
  // CreateContainer honours supplemental_groups_policy (Merge, Strict) and reports ContainerStatus.user.
  supplemental_groups_policy: true,
  user_namespaces_host_network: false,
};

/**
 * Status's runtime_handlers: the default handler first under the empty name (what a pod without
 * runtime_handler gets, and the name kubelet and critest look up by default), as containerd and
 * CRI-O list it, then each handler by its name.
 */
export function toRuntimeHandlers(
  handlers: readonly { name: string; features: HandlerFeatures }[],
  defaultName: string,
  userNamespaces: boolean,
): RuntimeHandler[] {
  const byName = handlers.map((h) => ({ name: h.name, features: toHandlerFeatures(h.features, userNamespaces) }));
  const dflt = byName.find((h) => h.name === defaultName);
  return dflt ? [{ name: '', features: dflt.features }, ...byName] : byName;
}
