/** One IP address a pod received on an interface, as CIDR ("10.85.0.7/16"). */
export interface PodIP {
  address: string;
  ip: string;
  gateway?: string;
  family: 4 | 6;
}

/** A CNI network configuration list, as loaded or as crib generates it. */
export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  plugins: PluginConfig[];
  /** Where it came from: a file path, or "builtin". */
  source: string;
}

export interface PluginConfig {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

/** What a pod got from CNI ADD, kept so that DEL can be given exactly the same inputs. */
export interface NetworkAttachment {
  netnsPath: string;
  ifName: string;
  network: NetworkConfigList;
  portMappings: PortMapping[];
  /** The final CNI result of the chain (prevResult for DEL). */
  result: Record<string, unknown>;
  ips: PodIP[];
}

/** The identity the CNI plugins see (CNI_CONTAINERID, CNI_ARGS). */
export interface PodNetworkIdentity {
  sandboxId: string;
  name: string;
  namespace: string;
  uid: string;
}
