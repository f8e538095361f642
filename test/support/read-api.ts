import { EnvReader } from '../../shared/runtime/config';
import { silentLogger } from '../../shared/runtime/log';
import { readReadApiConfig } from '../../shared/coverage/config';
import { startReadApi } from '../../workers/read-api/main';

/** The read API on a free port, as its worker starts it (worker role, config from the environment). */
export async function startTestReadApi() {
  const env = new EnvReader({ ...process.env, BI_READ_API_PORT: '0' });
  const config = readReadApiConfig(env);
  env.check();
  return startReadApi(config, silentLogger);
}
