import { EnvReader } from './config';

/**
 * How the workers authenticate to and encrypt traffic with each service. Everything defaults to
 * the local stack (no TLS, the stack's passwords); a managed cluster sets the variables below.
 * Invalid combinations are refused at start-up with the variable's name, because a half-secured
 * connection (TLS files given but TLS off, SASL without a mechanism) would otherwise fail later
 * with a driver message that names nothing, or silently connect in clear text.
 */

export const KAFKA_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type KafkaProtocol = (typeof KAFKA_PROTOCOLS)[number];
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export const PG_SSLMODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type PgSslMode = (typeof PG_SSLMODES)[number];

/** TLS material as PEM text (read from files at start-up). */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface KafkaSecurity {
  protocol: KafkaProtocol;
  /** Present for SSL and SASL_SSL. */
  tls?: TlsFiles;
  /** Present for SASL_PLAINTEXT and SASL_SSL. */
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

export interface RedisSecurity {
  username?: string;
  password?: string;
  /** Present when BI_REDIS_TLS is on. */
  tls?: TlsFiles;
}

export interface PgSecurity {
  sslmode: PgSslMode;
  ca?: string;
}

export interface RegistrySecurity {
  auth?: { username: string; password: string };
  ca?: string;
}

export function readKafkaSecurity(env: EnvReader): KafkaSecurity {
  const protocol = env.oneOf(
    'BI_KAFKA_SECURITY_PROTOCOL',
    'PLAINTEXT',
    KAFKA_PROTOCOLS,
    'Kafka security protocol (as security.protocol in the Java client)',
  );
  const mechanismText = env.string(
    'BI_KAFKA_SASL_MECHANISM',
    '',
    `SASL mechanism for SASL_PLAINTEXT and SASL_SSL: ${SASL_MECHANISMS.join(', ')}`,
  );
  const username = env.string('BI_KAFKA_SASL_USERNAME', '', 'SASL user name');
  const password = env.secret('BI_KAFKA_SASL_PASSWORD', '', 'SASL password');
  const ca = env.fileContent('BI_KAFKA_CA_FILE', 'PEM file of the CAs that sign the brokers; unset: the system CAs');
  const cert = env.fileContent('BI_KAFKA_CERT_FILE', 'PEM client certificate for mutual TLS');
  const key = env.fileContent('BI_KAFKA_KEY_FILE', 'PEM private key of BI_KAFKA_CERT_FILE');

  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  let mechanism: SaslMechanism | undefined;
  if (mechanismText !== '') {
    if ((SASL_MECHANISMS as readonly string[]).includes(mechanismText.toUpperCase())) {
      mechanism = mechanismText.toUpperCase() as SaslMechanism;
    } else {
      env.problem(
        `BI_KAFKA_SASL_MECHANISM=${JSON.stringify(mechanismText)} must be one of ${SASL_MECHANISMS.join(', ')}`,
      );
    }
  }
  if (usesSasl) {
    if (mechanismText === '')
      env.problem(`BI_KAFKA_SASL_MECHANISM is required with BI_KAFKA_SECURITY_PROTOCOL=${protocol}`);
    if (username === '') env.problem(`BI_KAFKA_SASL_USERNAME is required with BI_KAFKA_SECURITY_PROTOCOL=${protocol}`);
    if (password === '') {
      env.problem(`BI_KAFKA_SASL_PASSWORD (or _FILE) is required with BI_KAFKA_SECURITY_PROTOCOL=${protocol}`);
    }
  } else if (mechanismText !== '' || username !== '') {
    env.problem(
      `BI_KAFKA_SASL_MECHANISM/BI_KAFKA_SASL_USERNAME are set but BI_KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL (use SASL_SSL)`,
    );
  }
  if (
    !usesTls &&
    (env.isSet('BI_KAFKA_CA_FILE') || env.isSet('BI_KAFKA_CERT_FILE') || env.isSet('BI_KAFKA_KEY_FILE'))
  ) {
    env.problem(
      `BI_KAFKA_CA_FILE/CERT_FILE/KEY_FILE are set but BI_KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS`,
    );
  }
  if (env.isSet('BI_KAFKA_CERT_FILE') !== env.isSet('BI_KAFKA_KEY_FILE')) {
    env.problem('BI_KAFKA_CERT_FILE and BI_KAFKA_KEY_FILE go together (mutual TLS needs both)');
  }
  return {
    protocol,
    tls: usesTls ? { ca, cert, key } : undefined,
    sasl: usesSasl && mechanism ? { mechanism, username, password } : undefined,
  };
}

export function readRedisSecurity(env: EnvReader): RedisSecurity {
  const username = env.string('BI_REDIS_USERNAME', '', 'Redis ACL user (empty: the default user)');
  const password = env.secret('BI_REDIS_PASSWORD', '', 'Redis password (of the ACL user, or requirepass)');
  const tls = env.bool('BI_REDIS_TLS', false, 'connect to Redis over TLS (rediss)');
  const ca = env.fileContent(
    'BI_REDIS_CA_FILE',
    'PEM file of the CAs that sign the Redis server; unset: the system CAs',
  );
  if (username !== '' && password === '') env.problem('BI_REDIS_USERNAME is set without BI_REDIS_PASSWORD (or _FILE)');
  if (!tls && env.isSet('BI_REDIS_CA_FILE')) env.problem('BI_REDIS_CA_FILE is set but BI_REDIS_TLS is off');
  return {
    username: username || undefined,
    password: password || undefined,
    tls: tls ? { ca } : undefined,
  };
}

export function readPgSecurity(env: EnvReader): PgSecurity {
  const sslmode = env.oneOf(
    'BI_PG_SSLMODE',
    'disable',
    PG_SSLMODES,
    'PostgreSQL sslmode: require encrypts, verify-ca also checks the CA, verify-full also the host name',
  );
  const ca = env.fileContent('BI_PG_CA_FILE', 'PEM file of the CAs that sign the PostgreSQL server');
  if ((sslmode === 'verify-ca' || sslmode === 'verify-full') && !env.isSet('BI_PG_CA_FILE')) {
    env.problem(`BI_PG_CA_FILE is required with BI_PG_SSLMODE=${sslmode}`);
  }
  if (sslmode === 'disable' && env.isSet('BI_PG_CA_FILE')) {
    env.problem('BI_PG_CA_FILE is set but BI_PG_SSLMODE=disable');
  }
  return { sslmode, ca };
}

export function readRegistrySecurity(env: EnvReader, url: string): RegistrySecurity {
  const username = env.string('BI_REGISTRY_USERNAME', '', 'schema registry basic-auth user');
  const password = env.secret('BI_REGISTRY_PASSWORD', '', 'schema registry basic-auth password');
  const ca = env.fileContent('BI_REGISTRY_CA_FILE', 'PEM file of the CAs that sign the registry (https)');
  if (username !== '' && password === '')
    env.problem('BI_REGISTRY_USERNAME is set without BI_REGISTRY_PASSWORD (or _FILE)');
  if (username === '' && password !== '') env.problem('BI_REGISTRY_PASSWORD is set without BI_REGISTRY_USERNAME');
  if (env.isSet('BI_REGISTRY_CA_FILE') && !url.startsWith('https://')) {
    env.problem('BI_REGISTRY_CA_FILE is set but BI_REGISTRY_URL is not https://');
  }
  return { auth: username !== '' ? { username, password } : undefined, ca };
}
