import {ensureFixture} from '../source/fixtures/fixture-files.js';

// Build the fixture databases once, before any worker reads them.
export default function setup(): void {
	ensureFixture('newapi');
	ensureFixture('cpa');
}
