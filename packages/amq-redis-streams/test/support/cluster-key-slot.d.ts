declare module 'cluster-key-slot' {
  /** The Redis Cluster slot of a key (CRC16 of its hash tag or whole key, modulo 16384). */
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}
