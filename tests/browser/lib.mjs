// Shared helpers of the browser tests: argument parsing, a tiny reporter and
// a headless chromium launched through playwright-core with Debian's binary.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// --key value / --flag arguments; positional ones in _.
export function parseArgs(argv, flags = []) {
	const out = { _: [] };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a.startsWith('--')) {
			const eq = a.indexOf('=');
			if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
			else if (flags.includes(a.slice(2))) out[a.slice(2)] = true;
			else if (i + 1 < argv.length) out[a.slice(2)] = argv[++i];
			else throw new Error(`option ${a} needs a value`);
		} else out._.push(a);
	}
	return out;
}

// Reporter: one line per check, and exactly one summary line at the end.
export class Reporter {
	constructor(suite) {
		this.suite = suite;
		this.passed = 0;
		this.failed = 0;
		this.verbose = !!process.env.BROWSER_TEST_VERBOSE;
	}
	check(name, ok, detail = '') {
		if (ok) {
			this.passed++;
			console.log(`  ok    ${name}${detail && this.verbose ? ` (${detail})` : ''}`);
		} else {
			this.failed++;
			console.log(`  FAIL  ${name}${detail ? `: ${detail}` : ''}`);
		}
		return !!ok;
	}
	note(msg) {
		console.log(`  ..    ${msg}`);
	}
	// for a step that threw: counts as one failure, the rest goes on
	crash(name, err) {
		return this.check(name, false, `threw ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`);
	}
	finish() {
		console.log(`${this.suite}: ${this.passed} passed, ${this.failed} failed`);
		process.exitCode = this.failed ? 1 : 0;
	}
}

export const CHROMIUM = process.env.PYSPY_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--disable-default-apps',
	'--disable-extensions',
	'--no-default-browser-check',
	'--metrics-recording-only',
	'--password-store=basic',
];

// A persistent context in a fresh temporary profile directory (removed by close()).
export async function launch(opts = {}) {
	const { chromium } = await import('playwright-core');
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyspy-chromium-'));
	let ctx;
	try {
		ctx = await chromium.launchPersistentContext(dir, {
			executablePath: CHROMIUM,
			headless: true,
			args: CHROMIUM_ARGS,
			viewport: opts.viewport || { width: 1280, height: 900 },
			acceptDownloads: true,
			timeout: 30000,
		});
	} catch (e) {
		fs.rmSync(dir, { recursive: true, force: true });
		throw e;
	}
	const close = async () => {
		try {
			await ctx.close();
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	};
	return { ctx, close };
}

// Collects what a page reports on its own: uncaught exceptions, console
// errors, dialogs (dismissed unless a handler was queued with expectDialog),
// and requests that leave the page's own origin.
export function watchPage(page, ownUrlPrefix) {
	const w = { pageErrors: [], consoleErrors: [], dialogs: [], foreignRequests: [], answers: [] };
	// a missing or hidden element should fail a check in seconds, not in 30
	page.setDefaultTimeout(5000);
	page.on('pageerror', (e) => w.pageErrors.push(String(e && e.message ? e.message : e)));
	page.on('console', (m) => {
		if (m.type() === 'error') w.consoleErrors.push(m.text());
	});
	page.on('dialog', async (d) => {
		const answer = w.answers.shift();
		w.dialogs.push({ type: d.type(), message: d.message(), expected: answer !== undefined });
		try {
			if (answer !== undefined && answer !== null) await d.accept(answer);
			else await d.dismiss();
		} catch {
			/* page gone */
		}
	});
	page.on('request', (r) => {
		const u = r.url();
		if (ownUrlPrefix && !u.startsWith(ownUrlPrefix) && !u.startsWith('data:') && !u.startsWith('blob:'))
			w.foreignRequests.push(u);
	});
	// the next dialog is answered with text (a prompt) instead of dismissed
	w.expectDialog = (text) => w.answers.push(text);
	w.unexpectedDialogs = () => w.dialogs.filter((d) => !d.expected);
	return w;
}

export function short(s, n = 200) {
	s = String(s);
	return s.length > n ? s.slice(0, n) + '…' : s;
}

export function escapeRegex(s) {
	return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
