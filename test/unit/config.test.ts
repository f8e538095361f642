import { expect } from 'chai';
import { ConfigError, EnvReader } from '../../shared/runtime/config';
import { readIngestConfig } from '../../workers/ingest/config';

describe('configuration from the environment', () => {
  it('has working defaults with nothing set', () => {
    const env = new EnvReader({});
    const config = readIngestConfig(env);
    env.check();
    expect(config.flushMaxBars).to.equal(100);
    expect(config.flushMaxWaitMs).to.equal(1000);
    expect(config.connections.topics.bars).to.equal('md.bars.v1');
  });

  it('names every invalid variable at once', () => {
    const env = new EnvReader({
      BI_FLUSH_MAX_BARS: 'lots',
      BI_PG_PORT: '70000',
      BI_AUTO_REGISTER: 'maybe',
      BI_EXPORTER_DEFAULTS: 'desk-1=Quantower',
    });
    readIngestConfig(env);
    try {
      env.check();
      expect.fail('expected a ConfigError');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const text = (err as ConfigError).message;
      for (const name of ['BI_FLUSH_MAX_BARS', 'BI_PG_PORT', 'BI_AUTO_REGISTER', 'BI_EXPORTER_DEFAULTS']) {
        expect(text).to.contain(name);
      }
    }
  });

  it('parses exporter defaults for legacy bars', () => {
    const env = new EnvReader({ BI_EXPORTER_DEFAULTS: 'desk-1=Quantower/Binance, desk-2=Quantower/Coinbase' });
    const config = readIngestConfig(env);
    env.check();
    expect(config.exporterDefaults.get('desk-2')).to.deep.equal({ provider: 'Quantower', venue: 'Coinbase' });
  });

  it('prefixes every topic for isolated runs', () => {
    const env = new EnvReader({ BI_TOPIC_PREFIX: 't1.' });
    expect(readIngestConfig(env).connections.topics.barsDlq).to.equal('t1.md.bars.dlq.v1');
  });

  it('reads a crash point for crash-safety tests, and rejects an unknown one by name', () => {
    const ok = new EnvReader({ BI_CRASH_AT: 'redis-advanced:3' });
    expect(readIngestConfig(ok).crashAt).to.deep.equal({ point: 'redis-advanced', hit: 3 });
    ok.check();
    expect(readIngestConfig(new EnvReader({})).crashAt).to.equal(undefined);
    for (const bad of ['somewhere', 'redis-advanced:0', 'redis-advanced:x']) {
      const env = new EnvReader({ BI_CRASH_AT: bad });
      readIngestConfig(env);
      expect(() => env.check()).to.throw(ConfigError, `BI_CRASH_AT=${bad}`);
    }
  });
});
