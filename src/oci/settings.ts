// The settings that pick the programs running containers (the OCI runtime, the monitor): their
// names, defaults and help text live here, at the runtime boundary, so nothing above src/oci names
// the programs. src/config.ts composes them into cribd's config (top-level keys and flags of these
// names, plain strings); `crib daemon --help` reads their text.

export interface RuntimeSettings {
  /** The OCI runtime: "runc", "crun", or a path to a runc-compatible binary. */
  runtime: string;
  /** The container monitor (a name looked up on PATH, or a path). */
  conmon: string;
}

export const defaultRuntimeSettings: Readonly<RuntimeSettings> = { runtime: 'runc', conmon: 'conmon' };

interface Setting {
  /** Sets it from a flag's value. */
  set: (c: RuntimeSettings, v: string) => void;
  /** The flag's value form, and what it does. */
  value: string;
  help: string;
}

/** Each setting, as a `crib daemon` flag and a config-file key of its name (in this order). */
export const runtimeSettings: { readonly [K in keyof RuntimeSettings]: Setting } = {
  runtime: {
    set: (c, v) => (c.runtime = v),
    value: 'NAME|PATH',
    help: `the OCI runtime: runc, crun or a path (default ${defaultRuntimeSettings.runtime})`,
  },
  conmon: { set: (c, v) => (c.conmon = v), value: 'PATH', help: `the container monitor (default ${defaultRuntimeSettings.conmon})` },
};

/** What the runtime and its monitors keep under cribd's state directory (the help of --state). */
export const runtimeStateHelp = 'conmon exit files, runc state';
