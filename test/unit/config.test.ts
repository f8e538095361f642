import { expect } from 'chai';
import { ConfigError, EnvReader } from '../../shared/runtime/config';
import { readIngestConfig } from '../../workers/ingest/config';

describe('configuration from the environment', () => {
  it('has working defaults with nothing set', () => {
    const env = new EnvReader({});
    const config = readIngestConfig(env);
    env.check();
    expect(config.flushMaxMessages).to.equal(5000);
    expect(config.maxPendingMessages).to.equal(20_000);
    expect(config.flushMaxWaitMs).to.equal(1000);
    expect(config.connections.topics.bars).to.equal('md.bars.v1');
    expect(config.deprecations).to.deep.equal([]);
  });

  it('still reads the renamed BI_FLUSH_MAX_BARS and BI_MAX_PENDING_BARS for one release, saying so', () => {
    const env = new EnvReader({ BI_FLUSH_MAX_BARS: '250', BI_MAX_PENDING_BARS: '900' });
    const config = readIngestConfig(env);
    env.check();
    expect(config.flushMaxMessages).to.equal(250);
    expect(config.maxPendingMessages).to.equal(900);
    expect(config.deprecations).to.have.length(2);
    expect(config.deprecations[0]).to.contain('BI_FLUSH_MAX_BARS is deprecated').and.contain('BI_FLUSH_MAX_MESSAGES');
    expect(config.deprecations[1])
      .to.contain('BI_MAX_PENDING_BARS is deprecated')
      .and.contain('BI_MAX_PENDING_MESSAGES');
  });

  it('prefers the new name when both are set, and says the old one is ignored', () => {
    const env = new EnvReader({ BI_FLUSH_MAX_BARS: '250', BI_FLUSH_MAX_MESSAGES: '3000' });
    const config = readIngestConfig(env);
    env.check();
    expect(config.flushMaxMessages).to.equal(3000);
    expect(config.deprecations).to.deep.equal([
      'BI_FLUSH_MAX_BARS is ignored because BI_FLUSH_MAX_MESSAGES is set; remove BI_FLUSH_MAX_BARS (deprecated)',
    ]);
  });

  it('names every invalid variable at once', () => {
    const env = new EnvReader({
      BI_FLUSH_MAX_MESSAGES: 'lots',
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
      for (const name of ['BI_FLUSH_MAX_MESSAGES', 'BI_PG_PORT', 'BI_AUTO_REGISTER', 'BI_EXPORTER_DEFAULTS']) {
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
