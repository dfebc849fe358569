/** The runtime this process runs on, as the test output names it: `node-22`, `bun`, `deno`. */
export interface Runtime {
  readonly name: string;
  readonly version: string;
}

export function currentRuntime(): Runtime {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined) return { name: 'bun', version: versions.bun };
  if (versions.deno !== undefined) return { name: 'deno', version: versions.deno };
  const node = versions.node ?? 'unknown';
  return { name: `node-${node.split('.')[0]}`, version: node };
}
