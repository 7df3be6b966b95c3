#!/usr/bin/env node
// pyspy-speedscope output against speedscope itself (npm package "speedscope").
//
//   node tests/browser/speedscope.test.mjs --json T.json --hot hot --share 74.2 \
//        [--samples N[,M]] [--profiles K] [--hostile H.json]
//
// --json      a file made by pyspy-speedscope from a capture of tests/e2e/target_hot.py
// --hot       a function expected to hold --share percent (±10 points) of the
//             busiest profile's total weight
// --samples   the sample count pyspy-fold reports (N without idle samples,
//             M with them; either may match)
// --profiles  expected number of profiles (threads)
// --hostile   a file of tests/browser/target_hostile.py (names full of markup)
//
// 1. The file is valid UTF-8 and JSON, and valid against the schema speedscope
//    ships (node_modules/speedscope/dist/release/file-format-schema.json), plus
//    what the schema cannot say (frame indices in range, samples.length ==
//    weights.length, events nested and in order).
// 2. It is loaded by speedscope's own importer: the package only ships the
//    built app, so the app is served from 127.0.0.1 and opened in headless
//    chromium with #profileURL=<the file on the same server>. What the importer
//    built is read back two ways:
//    - the app's state: the Preact component tree (vnode.__k children,
//      vnode.__c component) is walked from the DOM to the component whose
//      props hold the profileGroup; its Profile objects (getName(),
//      getTotalWeight(), samples, weights, CallTreeNode.frame/parent) are
//      what every view of the app draws from;
//    - the app's own "Export" button, whose download (speedscope's
//      re-serialisation of what it imported) is parsed here.
// 3. What the importer sees equals what the file says: number and names of
//    profiles, per profile the total weight, the samples (speedscope merges
//    consecutive identical stacks, so the file's runs are compared), the
//    weight of every distinct stack, and the hot function's share.
// Prints one line per check and one summary: "browser-speedscope: N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs, Reporter, launch, watchPage, short, escapeRegex } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = parseArgs(process.argv.slice(2));
const R = new Reporter('browser-speedscope');
const HOT = args.hot || 'hot';
const SHARE = args.share !== undefined ? parseFloat(args.share) : NaN;
const TOL = 10;
const EPS = 1e-9;

const SS_DIR = path.dirname(require.resolve('speedscope/package.json'));
const APP_DIR = path.join(SS_DIR, 'dist', 'release');
const SCHEMA = path.join(APP_DIR, 'file-format-schema.json');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const close = (a, b) => Math.abs(a - b) <= EPS * Math.max(1, Math.abs(a), Math.abs(b));
const hotRe = new RegExp('^' + escapeRegex(HOT) + '(?![\\w.])');

// ---- 1. the file itself --------------------------------------------------

async function loadSchema() {
	const { default: Ajv } = await import('ajv');
	const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
	return new Ajv({ allErrors: true }).compile(schema);
}

function readJson(label, file) {
	const buf = fs.readFileSync(file);
	let textIn;
	try {
		textIn = new TextDecoder('utf-8', { fatal: true }).decode(buf);
		R.check(`${label}: valid UTF-8`, true);
	} catch (e) {
		let at = 0;
		for (; at < buf.length; at++) {
			try {
				new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, at + 1));
			} catch {
				if (at + 4 < buf.length) {
					try {
						new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, at + 4));
						continue;
					} catch {
						break;
					}
				}
			}
		}
		R.check(`${label}: valid UTF-8`, false, `bad byte near offset ${at}: ${JSON.stringify(buf.subarray(Math.max(0, at - 20), at + 4).toString('latin1'))}`);
		textIn = buf.toString('utf8');
	}
	try {
		const j = JSON.parse(textIn);
		R.check(`${label}: valid JSON`, true);
		return j;
	} catch (e) {
		R.check(`${label}: valid JSON`, false, e.message);
		return null;
	}
}

// What the schema cannot check; returns a list of problems.
function semanticProblems(j) {
	const p = [];
	const nf = j.shared && Array.isArray(j.shared.frames) ? j.shared.frames.length : 0;
	if (!nf) p.push('no shared frames');
	if (!Array.isArray(j.profiles) || j.profiles.length === 0) p.push('no profiles');
	if (j.activeProfileIndex !== undefined && !(Number.isInteger(j.activeProfileIndex) && j.activeProfileIndex >= 0 && j.activeProfileIndex < (j.profiles || []).length))
		p.push(`activeProfileIndex ${j.activeProfileIndex} out of range`);
	for (const [pi, prof] of (j.profiles || []).entries()) {
		const at = `profiles[${pi}]`;
		if (!(prof.endValue >= prof.startValue)) p.push(`${at}: endValue ${prof.endValue} < startValue ${prof.startValue}`);
		if (prof.type === 'sampled') {
			if (prof.samples.length !== prof.weights.length) p.push(`${at}: ${prof.samples.length} samples but ${prof.weights.length} weights`);
			prof.samples.forEach((s, si) => {
				for (const f of s) if (!Number.isInteger(f) || f < 0 || f >= nf) { p.push(`${at}.samples[${si}]: frame index ${f} not in 0..${nf - 1}`); break; }
			});
			prof.weights.forEach((w, wi) => {
				if (!Number.isFinite(w) || w < 0) p.push(`${at}.weights[${wi}] = ${w}`);
			});
		} else if (prof.type === 'evented') {
			const stack = [];
			let last = prof.startValue;
			for (const [ei, ev] of prof.events.entries()) {
				if (!Number.isInteger(ev.frame) || ev.frame < 0 || ev.frame >= nf) p.push(`${at}.events[${ei}]: frame ${ev.frame} out of range`);
				if (ev.at < last) p.push(`${at}.events[${ei}]: at ${ev.at} before ${last}`);
				last = ev.at;
				if (ev.type === 'O') stack.push(ev.frame);
				else if (stack.pop() !== ev.frame) p.push(`${at}.events[${ei}]: closes ${ev.frame}, not the innermost open frame`);
			}
			if (stack.length) p.push(`${at}: ${stack.length} frames never closed`);
			if (last > prof.endValue) p.push(`${at}: events run past endValue`);
		}
		if (p.length > 20) break;
	}
	return p;
}

const frameKey = (f) => `${f.name}\u0001${f.file === undefined || f.file === null ? '' : f.file}\u0001${f.line === undefined || f.line === null ? '' : f.line}`;

// The file's own view: per profile the (stack, weight) segments speedscope
// would build, aggregated per distinct stack.
function ourView(j) {
	const frames = j.shared.frames;
	return j.profiles.map((prof) => {
		const segs = [];
		if (prof.type === 'sampled') {
			prof.samples.forEach((s, i) => segs.push([s, prof.weights[i]]));
		} else {
			const stack = [];
			let last = prof.startValue;
			for (const ev of prof.events) {
				if (ev.at > last && stack.length) segs.push([stack.slice(), ev.at - last]);
				last = ev.at;
				if (ev.type === 'O') stack.push(ev.frame);
				else stack.pop();
			}
		}
		const stacks = new Map();
		let total = 0, hot = 0, runs = 0, prev = null, count = 0;
		const names = new Set();
		for (const [s, w] of segs) {
			if (w === 0) continue; // speedscope drops zero-weight samples
			count++;
			total += w;
			const key = s.map((i) => frameKey(frames[i])).join('\u0000');
			stacks.set(key, (stacks.get(key) || 0) + w);
			if (s.some((i) => hotRe.test(frames[i].name))) hot += w;
			for (const i of s) names.add(frames[i].name);
			if (key !== prev) runs++;
			prev = key;
		}
		return {
			name: prof.name,
			type: prof.type,
			unit: prof.unit,
			fileSamples: prof.type === 'sampled' ? prof.samples.length : null,
			count,
			runs,
			total,
			span: prof.endValue - prof.startValue,
			hot,
			stacks,
			names,
		};
	});
}

// ---- 2. speedscope's importer, in the app ---------------------------------

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.txt': 'text/plain' };

function serve(profiles) {
	const srv = http.createServer((req, res) => {
		let p = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
		let file;
		if (p.startsWith('/profile/')) file = profiles[p.slice('/profile/'.length)];
		else {
			if (p === '/') p = '/index.html';
			file = path.join(APP_DIR, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
			if (!file.startsWith(APP_DIR)) file = null;
		}
		fs.readFile(file || '/nonexistent', (err, data) => {
			if (err) {
				res.writeHead(404);
				res.end();
				return;
			}
			res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
			res.end(data);
		});
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

// Runs in the page: the profile group the app holds, summarised like ourView().
function readAppState(hotSrc) {
	const hot = new RegExp(hotSrc);
	const hosts = [document.documentElement, ...document.querySelectorAll('*')].filter((e) => e.__k);
	const seen = new Set();
	let group = null;
	const walk = (v) => {
		if (!v || typeof v !== 'object' || seen.has(v) || group) return;
		seen.add(v);
		const c = v.__c;
		if (c && c.props && c.props.profileGroup && Array.isArray(c.props.profileGroup.profiles)) {
			group = c.props.profileGroup;
			return;
		}
		if (Array.isArray(v.__k)) v.__k.forEach(walk);
	};
	hosts.forEach((h) => walk(h.__k));
	if (!group) return { found: false, hosts: hosts.length };
	const key = (f) => `${f.name}\u0001${f.file === undefined || f.file === null ? '' : f.file}\u0001${f.line === undefined || f.line === null ? '' : f.line}`;
	return {
		found: true,
		name: group.name,
		indexToView: group.indexToView,
		profiles: group.profiles.map((ps) => {
			const p = ps.profile;
			const stacks = {};
			let hotW = 0, wsum = 0;
			const names = new Set();
			p.samples.forEach((leaf, i) => {
				const w = p.weights[i];
				wsum += w;
				const fr = [];
				for (let n = leaf; n && n.parent; n = n.parent) fr.push(n.frame);
				fr.reverse();
				const k = fr.map(key).join('\u0000');
				stacks[k] = (stacks[k] || 0) + w;
				if (fr.some((f) => hot.test(f.name))) hotW += w;
				for (const f of fr) names.add(f.name);
			});
			return {
				name: p.getName(),
				unit: p.getWeightUnit(),
				total: p.getTotalWeight(),
				samples: p.samples.length,
				wsum,
				hot: hotW,
				stacks,
				names: [...names],
			};
		}),
	};
}

async function loadInApp(ctx, base, id, label) {
	const page = await ctx.newPage();
	const w = watchPage(page, base);
	const logs = [];
	page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
	const url = `${base}/index.html#profileURL=${encodeURIComponent(`${base}/profile/${id}`)}`;
	await page.goto(url, { waitUntil: 'load' });
	let st = null;
	const end = Date.now() + 15000;
	while (Date.now() < end) {
		st = await page.evaluate(readAppState, hotRe.source);
		if (st.found) break;
		if (logs.some((l) => /Failed to load format/.test(l)) || w.dialogs.length) break;
		await sleep(100);
	}
	const body = await page.evaluate(() => document.body.innerText);
	const ok = R.check(
		`${label}: speedscope imports it`,
		st && st.found,
		`${w.dialogs.map((d) => d.message).join(' | ') || ''} ${short(logs.filter((l) => !/GL Driver|WebGL/.test(l)).join(' | '), 300)} ${/went wrong/i.test(body) ? 'app says: ' + short(body, 100) : ''}${logs.some((l) => /WebGL initialized/.test(l)) ? '' : ' (no WebGL: the app never imports without it)'}`
	);
	return { page, w, st: ok ? st : null, logs };
}

// Click the app's Export button and parse what it downloads.
async function exportFromApp(page) {
	const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.getByText('Export', { exact: false }).first().click()]);
	const p = await dl.path();
	return JSON.parse(fs.readFileSync(p, 'utf8'));
}

function exportedView(j) {
	// evented export: per profile the total (endValue) and the weight under hot
	return j.profiles.map((prof) => {
		const stack = [];
		let last = prof.startValue, hot = 0, total = 0;
		for (const ev of prof.events) {
			const dt = ev.at - last;
			if (stack.length) total += dt;
			if (stack.some((f) => hotRe.test(j.shared.frames[f].name))) hot += dt;
			last = ev.at;
			if (ev.type === 'O') stack.push(ev.frame);
			else stack.pop();
		}
		return { name: prof.name, end: prof.endValue - prof.startValue, total, hot };
	});
}

// ---- 3. compare ------------------------------------------------------------

function compare(label, ours, st, opts) {
	R.check(`${label}: profile group named as in the file`, st.name === (opts.fileName || ours[0] && ours[0].name), `${JSON.stringify(st.name)} vs ${JSON.stringify(opts.fileName)}`);
	R.check(`${label}: importer sees ${ours.length} profiles`, st.profiles.length === ours.length, `importer ${st.profiles.length}, file ${ours.length}`);
	const n = Math.min(ours.length, st.profiles.length);
	let bad = [];
	for (let i = 0; i < n; i++) if (st.profiles[i].name !== ours[i].name) bad.push(`#${i} ${JSON.stringify(st.profiles[i].name)} vs ${JSON.stringify(ours[i].name)}`);
	R.check(`${label}: profile names as in the file`, bad.length === 0, bad.join('; '));
	bad = [];
	for (let i = 0; i < n; i++) {
		const a = st.profiles[i], o = ours[i];
		if (!close(a.wsum, o.total)) bad.push(`#${i} weights ${a.wsum} vs ${o.total}`);
		else if (!close(a.total, o.total))
			bad.push(`#${i} speedscope total ${a.total} vs sum of weights ${o.total}${o.span > o.total ? ` (endValue-startValue ${o.span} is more than the weights: speedscope takes the larger)` : ''}`);
	}
	R.check(`${label}: per profile total weight = sum of weights`, bad.length === 0, bad.slice(0, 4).join('; '));
	bad = [];
	for (let i = 0; i < n; i++) {
		const a = st.profiles[i], o = ours[i];
		if (o.type === 'sampled' && a.samples !== o.runs) bad.push(`#${i} importer ${a.samples} samples, file ${o.count} samples in ${o.runs} runs of equal stacks`);
	}
	R.check(`${label}: per profile sample count (runs of equal stacks)`, bad.length === 0, bad.slice(0, 4).join('; '));
	bad = [];
	for (let i = 0; i < n; i++) {
		const a = st.profiles[i], o = ours[i];
		const keys = new Set([...o.stacks.keys(), ...Object.keys(a.stacks)]);
		for (const k of keys) {
			const x = a.stacks[k] || 0, y = o.stacks.get(k) || 0;
			if (!close(x, y)) bad.push(`#${i} ${short(k.split('\u0000').map((f) => f.split('\u0001')[0]).join(';'), 80)}: importer ${x}, file ${y}`);
		}
	}
	R.check(`${label}: every stack has the file's weight in the importer`, bad.length === 0, `${bad.length} differ: ${bad.slice(0, 3).join('; ')}`);
	if (opts.profiles !== undefined) R.check(`${label}: ${opts.profiles} profiles (threads)`, ours.length === opts.profiles, `${ours.length}: ${ours.map((o) => o.name).join(', ')}`);
	if (opts.samples) {
		const want = opts.samples;
		const count = ours.reduce((s, o) => s + (o.fileSamples === null ? 0 : o.fileSamples), 0);
		const weight = ours.reduce((s, o) => s + o.total, 0);
		R.check(
			`${label}: sample count matches pyspy-fold (${want.join(' or ')})`,
			want.includes(count) || want.some((x) => close(x, weight)),
			`file has ${count} samples of total weight ${weight} (${ours[0] && ours[0].unit})`
		);
	}
	if (opts.hot) {
		const busiest = st.profiles.reduce((a, b) => (b.total > a.total ? b : a), st.profiles[0]);
		const ob = ours.find((o) => o.name === busiest.name) || ours[0];
		R.check(`${label}: ${HOT} present in the busiest profile`, busiest.hot > 0, `profile ${JSON.stringify(busiest.name)}; frames ${short(busiest.names.join(', '), 200)}`);
		const share = (100 * busiest.hot) / busiest.total;
		if (!Number.isNaN(SHARE)) R.check(`${label}: ${HOT} has ${SHARE.toFixed(1)}% ±${TOL} of the busiest profile`, Math.abs(share - SHARE) <= TOL, `importer: ${share.toFixed(1)}% of ${JSON.stringify(busiest.name)}`);
		R.check(`${label}: importer's ${HOT} weight = the file's`, close(busiest.hot, ob.hot), `importer ${busiest.hot}, file ${ob.hot}`);
		R.note(`${HOT}: ${share.toFixed(1)}% of ${busiest.total} ${busiest.unit} in ${JSON.stringify(busiest.name)}`);
	}
}

async function run(label, file, ctx, base, id, validate, opts) {
	if (!R.check(`${label}: ${file} exists and is not empty`, fs.existsSync(file) && fs.statSync(file).size > 0)) return;
	const j = readJson(label, file);
	if (!j) return;
	const valid = validate(j);
	R.check(`${label}: valid against speedscope's file-format-schema.json`, valid, short((validate.errors || []).slice(0, 4).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; '), 400));
	if (!valid) return;
	const sem = semanticProblems(j);
	if (!R.check(`${label}: frame indices, lengths and events consistent`, sem.length === 0, sem.slice(0, 4).join('; '))) return;
	let ours;
	try {
		ours = ourView(j);
	} catch (e) {
		R.crash(`${label}: read the file`, e);
		return;
	}
	R.note(`${label}: ${ours.length} profiles: ${ours.map((o) => `${JSON.stringify(short(o.name, 40))} ${o.count} samples, ${+o.total.toFixed(6)} ${o.unit}`).join('; ')}`);
	if (!ctx) return;
	const { page, w, st } = await loadInApp(ctx, base, id, label);
	try {
		if (st) {
			compare(label, ours, st, { ...opts, fileName: j.name });
			// the thread selector lists every profile by name, as text
			const body = await page.evaluate(() => document.body.textContent);
			const missing = ours.filter((o) => !body.includes(o.name.trim()));
			R.check(`${label}: the app lists every profile name`, missing.length === 0, `missing ${missing.map((m) => JSON.stringify(m.name)).join(', ')}`);
			if (opts.hostile) hostileChecks(label, st, page, w, body);
			try {
				// a second way to read the importer: its own Export, which must
				// agree with the state read above (so that reading is sound)
				const ex = await exportFromApp(page);
				const ev = exportedView(ex);
				const vOk = validate(ex);
				const bad = [];
				if (ev.length !== st.profiles.length) bad.push(`${ev.length} profiles`);
				for (let i = 0; i < Math.min(ev.length, st.profiles.length); i++) {
					const a = st.profiles[i], e = ev[i];
					const tol = 1e-6 * Math.max(1, a.total);
					if (e.name !== a.name) bad.push(`#${i} name ${JSON.stringify(e.name)}`);
					if (Math.abs(e.end - a.total) > tol) bad.push(`#${i} total ${e.end} vs ${a.total}`);
					if (Math.abs(e.total - a.wsum) > tol) bad.push(`#${i} weights ${e.total} vs ${a.wsum}`);
					if (Math.abs(e.hot - a.hot) > tol) bad.push(`#${i} ${HOT} ${e.hot} vs ${a.hot}`);
				}
				R.check(`${label}: the app's Export agrees with the app's state`, vOk && bad.length === 0, `${vOk ? '' : 'export fails the schema; '}${bad.slice(0, 4).join('; ')}`);
			} catch (e) {
				R.crash(`${label}: the app's Export`, e);
			}
		}
		const shot = `/tmp/pyspy-browser-speedscope${opts.hostile ? '-hostile' : ''}.png`;
		await page.screenshot({ path: shot, timeout: 10000 }).catch(() => {});
		R.check(`${label}: no dialogs`, w.dialogs.length === 0, w.dialogs.map((d) => `${d.type}: ${short(d.message, 80)}`).join(' | '));
		R.check(`${label}: no uncaught script errors`, w.pageErrors.length === 0, w.pageErrors.map((e) => short(e)).join(' | '));
		const errs = w.consoleErrors.filter((e) => !/favicon/.test(e));
		R.check(`${label}: no console errors`, errs.length === 0, errs.map((e) => short(e)).join(' | '));
		R.check(`${label}: no requests off the local server`, w.foreignRequests.length === 0, w.foreignRequests.slice(0, 4).join(' '));
	} finally {
		await page.close();
	}
}

function hostileChecks(label, st, page, w, body) {
	const names = st.profiles.flatMap((p) => p.names);
	const files = st.profiles.flatMap((p) => Object.keys(p.stacks).flatMap((k) => k.split('\u0000').map((f) => f.split('\u0001')[1])));
	for (const t of ['<script>alert(1)</script>', ']]><script>alert(3)</script>', '</title></text></g></svg><svg onload=alert(4)>', `"quoted"'single'`, '\\u0022 "}]} \\ back\\slash', 'na\u00efve \u65e5\u672c \u{1F600}'])
		R.check(`${label}: importer has frame ${JSON.stringify(t)}`, names.some((n) => n.includes(t)), short(JSON.stringify(names.filter((n) => /alert|quoted|na|slash/.test(n)).slice(0, 6)), 300));
	R.check(`${label}: importer has file <b>&"'</b>.py`, files.some((f) => f.includes(`<b>&"'</b>.py`)), short(JSON.stringify([...new Set(files)].slice(0, 6)), 300));
	R.check(`${label}: a profile named after thread <script>alert(2)</script>`, st.profiles.some((p) => p.name.includes('<script>alert(2)</script>')), st.profiles.map((p) => JSON.stringify(p.name)).join(', '));
	R.check(`${label}: the thread name is shown as text`, body.includes('<script>alert(2)</script>'), 'not in the page text');
	const lone = names.filter((n) => /\p{Cs}/u.test(n));
	R.check(`${label}: no lone surrogates in names`, lone.length === 0, short(JSON.stringify(lone.slice(0, 3))));
	const ctl = names.filter((n) => /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(n));
	if (ctl.length) R.note(`${label}: control characters kept (JSON-escaped) in ${short(JSON.stringify([...new Set(ctl)]), 120)}`);
}

async function main() {
	const file = args.json || args._[0];
	if (!file && !args.hostile) {
		console.error('usage: speedscope.test.mjs --json FILE [--hot F --share PCT --samples N[,M] --profiles K] [--hostile FILE]');
		process.exit(2);
	}
	let validate;
	try {
		validate = await loadSchema();
		R.check(`schema: ${path.relative(here, SCHEMA)} compiles`, true);
	} catch (e) {
		R.crash('schema', e);
		R.finish();
		return;
	}
	const files = {};
	if (file) files.main = path.resolve(file);
	if (args.hostile) files.hostile = path.resolve(args.hostile);
	const srv = await serve(files);
	const base = `http://127.0.0.1:${srv.address().port}`;
	let browser = null;
	try {
		browser = await launch();
	} catch (e) {
		R.crash('launch chromium', e);
	}
	try {
		const opts = {
			hot: true,
			samples: args.samples ? String(args.samples).split(',').map(Number) : null,
			profiles: args.profiles !== undefined ? Number(args.profiles) : undefined,
		};
		if (file) await run('speedscope', file, browser && browser.ctx, base, 'main', validate, opts).catch((e) => R.crash('speedscope', e));
		if (args.hostile) await run('hostile', args.hostile, browser && browser.ctx, base, 'hostile', validate, { hostile: true }).catch((e) => R.crash('hostile', e));
	} finally {
		if (browser) await browser.close();
		srv.close();
	}
	R.finish();
}

main().catch((e) => {
	R.crash('speedscope.test.mjs', e);
	R.finish();
});
