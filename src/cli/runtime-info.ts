import { cribVersion } from '../version.js';
import { call, protoJson } from '../client/client.js';
import type { Command } from './command.js';
import { outputFormat, parseInfo, printData } from './output.js';

export const versionCommand: Command = {
  name: 'version',
  synopsis: '[-o json|yaml]',
  summary: "The client's version and the runtime's (CRI Version).",
  details: "  -o, --output FORMAT   table (default), json or yaml (the CRI fields by protobuf's JSON names, and clientVersion)",
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    const format = outputFormat(args.get('output'));
    const v = await call(ctx.clients.runtime, 'Version', { version: 'v1' });
    if (format === 'json' || format === 'yaml') {
      printData(ctx, format, { clientVersion: cribVersion, ...protoJson('VersionResponse', v) });
      return 0;
    }
    ctx.out.write(
      `ClientVersion:  ${cribVersion}\nVersion:  ${v.version}\nRuntimeName:  ${v.runtime_name}\nRuntimeVersion:  ${v.runtime_version}\nRuntimeApiVersion:  ${v.runtime_api_version}\n`,
    );
    return 0;
  },
};

export const infoCommand: Command = {
  name: 'info',
  synopsis: '[-o json|yaml]',
  summary: "The runtime's status: conditions (RuntimeReady, NetworkReady), its config and the network's (CRI Status, verbose).",
  details: '  -o, --output FORMAT   json (default) or yaml, as crictl info prints it',
  flags: { value: ['output'], alias: { o: 'output' } },
  async run(args, ctx) {
    const s = await call(ctx.clients.runtime, 'Status', { verbose: true });
    printData(ctx, args.get('output') === 'yaml' ? 'yaml' : 'json', { status: protoJson('RuntimeStatus', s.status), ...parseInfo(s.info) });
    return 0;
  },
};
