import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
		// postgres-global-setup: embedded PostgreSQL servers, started on first use and shared by the whole run
		globalSetup: ['test/global-setup.ts', 'test/postgres-global-setup.ts'],
		testTimeout: 60_000,
		hookTimeout: 120_000,
	},
});
