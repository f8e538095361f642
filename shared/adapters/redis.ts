import Redis, { RedisOptions } from 'ioredis';
import type { RedisSettings } from '../runtime/connections';

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

export function createRedis(settings: RedisSettings, options: RedisOptions = {}): Redis {
  return new Redis(redisOptions(settings, options));
}
