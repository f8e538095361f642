import { expect } from 'chai';
import { ConfigError, EnvReader } from '../../shared/runtime/config';
import { readConnections } from '../../shared/runtime/connections';
import { readIngestConfig } from '../../workers/ingest/config';
import { readContinuityConfig } from '../../workers/continuity/config';
import { kafkaSecurityOptions } from '../../shared/adapters/kafka';
import { pgSslOptions } from '../../shared/adapters/postgres';
import { redisOptions } from '../../shared/adapters/redis';
import { fatalKind } from '../../shared/adapters/preflight';

const FILES: Record<string, string> = {
  '/run/secrets/kafka': 's3cret-from-file\n',
  '/tls/ca.pem': '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
};
const readFile = (p: string): string => {
  const content = FILES[p];
  if (content === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  return content;
};

function problems(vars: Record<string, string>): string {
  const env = new EnvReader(vars, readFile);
  readConnections(env, 'test');
  try {
    env.check();
    return '';
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).message;
  }
}

describe('security settings from the environment', () => {
  it('defaults to the local stack: no TLS, no SASL, the stack passwords', () => {
    const env = new EnvReader({}, readFile);
    const c = readConnections(env, 'test');
    env.check();
    expect(c.kafka.security).to.deep.equal({ protocol: 'PLAINTEXT', tls: undefined, sasl: undefined });
    expect(c.pgWorker.security.sslmode).to.equal('disable');
    expect(c.pgWorker.password).to.equal('bar_ingest_worker');
    expect(c.redis.security).to.deep.equal({ username: undefined, password: undefined, tls: undefined });
    expect(kafkaSecurityOptions(c.kafka.security)).to.deep.equal({});
    expect(pgSslOptions(c.pgWorker.security)).to.equal(false);
  });

  it('reads SASL_SSL with SCRAM, the password from a *_FILE (trailing newline dropped) and the CA from a file', () => {
    const env = new EnvReader(
      {
        BI_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        BI_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        BI_KAFKA_SASL_USERNAME: 'bi-worker',
        BI_KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka',
        BI_KAFKA_CA_FILE: '/tls/ca.pem',
      },
      readFile,
    );
    const c = readConnections(env, 'test');
    env.check();
    expect(kafkaSecurityOptions(c.kafka.security)).to.deep.equal({
      ssl: { ca: FILES['/tls/ca.pem'], cert: undefined, key: undefined },
      sasl: { mechanism: 'scram-sha-512', username: 'bi-worker', password: 's3cret-from-file' },
    });
  });

  it('maps each PostgreSQL sslmode onto node-postgres, and Redis TLS and ACL user onto ioredis', () => {
    expect(pgSslOptions({ sslmode: 'require' })).to.deep.equal({ rejectUnauthorized: false });
    const verifyCa = pgSslOptions({ sslmode: 'verify-ca', ca: 'CA' });
    expect(verifyCa).to.include({ rejectUnauthorized: true, ca: 'CA' });
    expect(verifyCa && verifyCa.checkServerIdentity).to.be.a('function');
    expect(pgSslOptions({ sslmode: 'verify-full', ca: 'CA' })).to.deep.equal({ rejectUnauthorized: true, ca: 'CA' });
    const env = new EnvReader(
      { BI_REDIS_USERNAME: 'bi', BI_REDIS_PASSWORD: 'pw', BI_REDIS_TLS: 'true', BI_REDIS_CA_FILE: '/tls/ca.pem' },
      readFile,
    );
    const c = readConnections(env, 'test');
    env.check();
    expect(redisOptions(c.redis, { lazyConnect: true })).to.include({
      username: 'bi',
      password: 'pw',
      lazyConnect: true,
    });
    expect(redisOptions(c.redis).tls).to.deep.equal({ ca: FILES['/tls/ca.pem'] });
  });

  it('refuses invalid combinations, naming the variable', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [
        { BI_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', BI_KAFKA_SASL_USERNAME: 'u', BI_KAFKA_SASL_PASSWORD: 'p' },
        'BI_KAFKA_SASL_MECHANISM is required',
      ],
      [
        { BI_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', BI_KAFKA_SASL_MECHANISM: 'PLAIN' },
        'BI_KAFKA_SASL_USERNAME is required',
      ],
      [{ BI_KAFKA_SECURITY_PROTOCOL: 'TLS' }, 'BI_KAFKA_SECURITY_PROTOCOL="TLS" must be one of'],
      [
        {
          BI_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
          BI_KAFKA_SASL_MECHANISM: 'GSSAPI',
          BI_KAFKA_SASL_USERNAME: 'u',
          BI_KAFKA_SASL_PASSWORD: 'p',
        },
        'BI_KAFKA_SASL_MECHANISM="GSSAPI"',
      ],
      [{ BI_KAFKA_SASL_MECHANISM: 'PLAIN' }, 'does not use SASL'],
      [{ BI_KAFKA_CA_FILE: '/tls/ca.pem' }, 'does not use TLS'],
      [
        { BI_KAFKA_SECURITY_PROTOCOL: 'SSL', BI_KAFKA_CERT_FILE: '/tls/ca.pem' },
        'BI_KAFKA_CERT_FILE and BI_KAFKA_KEY_FILE go together',
      ],
      [{ BI_PG_SSLMODE: 'verify-full' }, 'BI_PG_CA_FILE is required with BI_PG_SSLMODE=verify-full'],
      [{ BI_PG_SSLMODE: 'prefer' }, 'BI_PG_SSLMODE="prefer" must be one of'],
      [
        { BI_PG_SSLMODE: 'verify-ca', BI_PG_CA_FILE: '/nowhere.pem' },
        'BI_PG_CA_FILE="/nowhere.pem" cannot be read: ENOENT',
      ],
      [{ BI_REDIS_USERNAME: 'bi' }, 'BI_REDIS_USERNAME is set without BI_REDIS_PASSWORD'],
      [{ BI_REDIS_CA_FILE: '/tls/ca.pem' }, 'BI_REDIS_CA_FILE is set but BI_REDIS_TLS is off'],
      [{ BI_REGISTRY_CA_FILE: '/tls/ca.pem' }, 'BI_REGISTRY_CA_FILE is set but BI_REGISTRY_URL is not https://'],
      [{ BI_REGISTRY_USERNAME: 'u' }, 'BI_REGISTRY_USERNAME is set without BI_REGISTRY_PASSWORD'],
      [
        { BI_PG_WORKER_PASSWORD: 'a', BI_PG_WORKER_PASSWORD_FILE: '/run/secrets/kafka' },
        'BI_PG_WORKER_PASSWORD and BI_PG_WORKER_PASSWORD_FILE are both set',
      ],
      [
        { BI_REDIS_PASSWORD_FILE: '/run/secrets/missing' },
        'BI_REDIS_PASSWORD_FILE="/run/secrets/missing" cannot be read',
      ],
    ];
    for (const [vars, expected] of cases) expect(problems(vars), JSON.stringify(vars)).to.contain(expected);
  });

  it('never puts a secret into a problem message', () => {
    const text = problems({
      BI_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      BI_KAFKA_SASL_PASSWORD: 'hunter2-kafka',
      BI_REDIS_PASSWORD: 'hunter2-redis',
      BI_REDIS_PASSWORD_FILE: '/run/secrets/kafka',
      BI_REGISTRY_PASSWORD: 'hunter2-registry',
    });
    expect(text).to.contain('BI_KAFKA_SASL_MECHANISM');
    for (const secret of ['hunter2', 's3cret-from-file']) expect(text).not.to.contain(secret);
  });

  it('--help of each worker lists every new variable with its default', () => {
    for (const read of [readIngestConfig, readContinuityConfig]) {
      const env = new EnvReader({});
      read(env);
      const help = env.helpText();
      for (const name of [
        'BI_KAFKA_SECURITY_PROTOCOL',
        'BI_KAFKA_SASL_MECHANISM',
        'BI_KAFKA_SASL_USERNAME',
        'BI_KAFKA_SASL_PASSWORD',
        'BI_KAFKA_SASL_PASSWORD_FILE',
        'BI_KAFKA_CA_FILE',
        'BI_KAFKA_CERT_FILE',
        'BI_KAFKA_KEY_FILE',
        'BI_REDIS_USERNAME',
        'BI_REDIS_PASSWORD_FILE',
        'BI_REDIS_TLS',
        'BI_REDIS_CA_FILE',
        'BI_PG_SSLMODE',
        'BI_PG_CA_FILE',
        'BI_PG_WORKER_PASSWORD_FILE',
        'BI_REGISTRY_USERNAME',
        'BI_REGISTRY_PASSWORD_FILE',
        'BI_REGISTRY_CA_FILE',
      ]) {
        expect(help).to.match(new RegExp(`^  ${name} .*\\(default: [^)]+\\)$`, 'm'));
      }
      expect(help).to.match(/BI_KAFKA_SECURITY_PROTOCOL .*\(default: PLAINTEXT\)/);
      expect(help).to.match(/BI_PG_SSLMODE .*\(default: disable\)/);
    }
  });

  it('tells errors retrying cannot fix (TLS, authentication) from ones it can', () => {
    expect(
      fatalKind(
        Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
      ),
    ).to.equal('tls');
    expect(
      fatalKind(Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' })),
    ).to.equal('auth');
    expect(fatalKind(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).to.equal('auth');
    const wrapped = Object.assign(new Error('retries exceeded'), {
      cause: Object.assign(new Error('x'), { name: 'KafkaJSSASLAuthenticationError' }),
    });
    expect(fatalKind(wrapped)).to.equal('auth');
    expect(fatalKind(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).to.equal(
      undefined,
    );
  });
});
