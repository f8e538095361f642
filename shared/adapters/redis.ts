import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisSettings } from '../runtime/connections';

/** A single Redis or a Redis Cluster: the workers use only what both offer. */
export type RedisClient = Redis | Cluster;

/**
 * The one place a Redis client is made, so ACL user, password and TLS reach every connection.
 * `options` are ioredis options for this use (lazyConnect, retries, ...).
 */
export function redisOptions(settings: RedisSettings, options: RedisOptions = {}): RedisOptions {
  const { username, password, tls } = settings.security;
  return {
    host: settings.host,
    port: settings.port,
    username,
    password,
    tls: tls ? { ca: tls.ca } : undefined,
    ...options,
  };
}

/**
 * Options of an ioredis Cluster for the same settings: every node connection gets the ACL user,
 * password and TLS; the options that belong to the cluster as a whole (lazy connect, the offline
 * queue, when to give up reconnecting) are moved up to it.
 */
export function clusterOptions(settings: RedisSettings, options: RedisOptions = {}): ClusterOptions {
  const {
    lazyConnect,
    enableOfflineQueue,
    retryStrategy,
    host: _host,
    port: _port,
    ...perNode
  } = redisOptions(settings, options);
  return {
    lazyConnect,
    enableOfflineQueue,
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    // With TLS, connect to the names given (not the addresses they resolve to), so the server
    // certificate is checked against the name it carries (as ioredis advises for managed clusters).
    ...(settings.security.tls
      ? {
          dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) =>
            callback(null, address),
        }
      : {}),
    redisOptions: perNode,
  };
}

export function createRedis(settings: RedisSettings, options: RedisOptions = {}): RedisClient {
  if (settings.clusterNodes.length > 0) return new Cluster(settings.clusterNodes, clusterOptions(settings, options));
  return new Redis(redisOptions(settings, options));
}
