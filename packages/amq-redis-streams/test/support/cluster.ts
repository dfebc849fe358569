import { pollBroker } from './broker';
import { askServer, PrivateRedis, redisCli, redisServerMissing } from './server';

/** A three-master Redis Cluster on loopback ports, made for one test file. */
export class PrivateCluster {
  readonly nodes: readonly PrivateRedis[];

  private constructor(nodes: readonly PrivateRedis[]) {
    this.nodes = nodes;
  }

  /** Starts three `--cluster-enabled` servers and joins them; throws when that fails. */
  static async start(): Promise<PrivateCluster> {
    const nodes: PrivateRedis[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        nodes.push(
          await PrivateRedis.start([
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
          ]),
        );
      }
      const cluster = new PrivateCluster(nodes);
      // biome-ignore format: one option per pair
      await redisCli([
        '--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas', '0', '--cluster-yes',
      ]);
      await pollBroker(() => cluster.#isOk(), 'the cluster to be ok on every node', 30_000);
      return cluster;
    } catch (error) {
      await Promise.allSettled(nodes.map((node) => node.stop()));
      throw error;
    }
  }

  /** Starts a cluster, or says why it cannot run here. */
  static async tryStart(): Promise<PrivateCluster | string> {
    const missing = await redisServerMissing();
    if (missing !== null) return missing;
    try {
      return await PrivateCluster.start();
    } catch (error) {
      return `could not start a local Redis Cluster (${error instanceof Error ? error.message : String(error)})`;
    }
  }

  /** The URL a handler connects with: one node, and the adapter's cluster flag. */
  get url(): string {
    return `${this.nodes[0]!.url}?cluster=true`;
  }

  get nodeUrls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.stop()));
  }

  async #isOk(): Promise<boolean> {
    for (const node of this.nodes) {
      const info = await askServer(node.url, (client) => client.cluster('INFO') as Promise<string>);
      if (info === null || !info.includes('cluster_state:ok')) return false;
    }
    return true;
  }
}
