import type {MaintenanceService} from '../maintenance/maintenance-service.js';
import type {PostgresObserver, UsageSource} from '../usage/types.js';
import {maskSecrets, maskSecretsIn} from './secret-registry.js';

// What the dashboard shows comes from the database or the manager, and may hold a known secret (a
// session's query that sets a password, an alias pasted with the key). It is masked as it arrives,
// before anything lays it out: a secret cut to a column's width would still show its start.

/** The call's answer masked, and its failure's message: the status bar shows that. */
function masked<Args extends unknown[], Answer>(call: (...args: Args) => Promise<Answer>): (...args: Args) => Promise<Answer> {
	return async (...args) => {
		try {
			return maskSecretsIn(await call(...args));
		} catch (error) {
			if (error instanceof Error) error.message = maskSecrets(error.message);
			throw error;
		}
	};
}

function maskedObserver(observer: PostgresObserver): PostgresObserver {
	return {snapshot: masked(panels => observer.snapshot(panels)), signal: masked((kind, target) => observer.signal(kind, target))};
}

/** The source, every answer and failure masked. */
export function maskedSource(source: UsageSource): UsageSource {
	const {withSignal, postgres} = source;
	return {
		kind: source.kind,
		target: source.target,
		capabilities: source.capabilities,
		summary: masked(query => source.summary(query)),
		facets: masked(query => source.facets(query)),
		rate: masked(query => source.rate(query)),
		timeline: masked((query, bucketMs, buckets) => source.timeline(query, bucketMs, buckets)),
		models: masked(query => source.models(query)),
		groups: masked((query, dimension, page) => source.groups(query, dimension, page)),
		apiKeys: masked((query, page) => source.apiKeys(query, page)),
		realtime: masked((query, page) => source.realtime(query, page)),
		newestRequestMs: masked(() => source.newestRequestMs()),
		...(postgres === undefined ? {} : {postgres: maskedObserver(postgres)}),
		...(withSignal === undefined ? {} : {withSignal: (signal: AbortSignal) => maskedSource(withSignal.call(source, signal))}),
		close: () => source.close(),
	};
}

/**
 * The maintenance service, with what it says masked: the health checks' evidence (statements),
 * progress and outcomes. The overview is left whole: its proposals and plans come back to run()
 * as the statements to execute.
 */
export function maskedMaintenance(service: MaintenanceService): MaintenanceService {
	return {
		overview: keep => service.overview(keep),
		run: masked((action, onProgress, signal) => service.run(action, line => onProgress(maskSecrets(line)), signal)),
		health: masked(options => service.health(options)),
		close: () => service.close(),
	};
}
