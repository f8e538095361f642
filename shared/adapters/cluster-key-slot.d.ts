// cluster-key-slot (ioredis' own dependency) ships no types; these are the two functions it exports.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0..16383) of a key, honouring its {hash tag}. */
  function generate(key: string | Buffer): number;
  namespace generate {
    /** The common slot of the keys, or -1 when they do not share one. */
    function generateMulti(keys: Array<string | Buffer>): number;
  }
  export = generate;
}
