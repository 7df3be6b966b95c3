#!/usr/bin/env node
// pyspy-svg output in a real browser (headless chromium through playwright-core).
//
//   node tests/browser/svg.test.mjs --svg T.svg --hot hot --cold cold \
//        --file target_hot.py --share 74.2 [--hostile H.svg] \
//        [--search '^hot\b'] [--screenshot /tmp/pyspy-browser-svg.png]
//
// --svg      an SVG made by pyspy-svg from a capture of tests/e2e/target_hot.py
// --hot      a function with a big box (clicked, searched, hovered)
// --cold     a sibling of it that zooming into --hot must hide
// --file     a file name the hovered details must show as FILE:LINE
// --share    expected percentage of samples under --hot (±10 points)
// --hostile  an SVG of tests/browser/target_hostile.py (names full of markup)
// --hostile-argv  an argument given to that target, which the SVG must show as text
//
// Frames are the elements of --frame-selector (default "g.f"); a frame's
// function is its data-name attribute, else its <title> text. The page must
// have #reset, #search, #matched and #details; window.pyspySearch(regex) and
// window.pyspyZoom(element) are checked when present.
// Prints one line per check and one summary: "browser-svg: N passed, M failed".
import path from 'node:path';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs, Reporter, launch, watchPage, short, escapeRegex } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
const R = new Reporter('browser-svg');
const SEL = args['frame-selector'] || 'g.f';
const HOT = args.hot || 'hot';
const COLD = args.cold || 'cold';
const FILE = args.file || 'target_hot.py';
const SHARE = args.share !== undefined ? parseFloat(args.share) : NaN;
const SEARCH = args.search || `^${escapeRegex(HOT)}\\b`;
const SHOT = args.screenshot || '/tmp/pyspy-browser-svg.png';
const TOL = 10; // percentage points

// the names target_hostile.py gives, which must come out as text
const HOSTILE_TEXTS = [
	'<script>alert(1)</script>',
	']]><script>alert(3)</script>',
	'</title></text></g></svg><svg onload=alert(4)>',
	`"quoted"'single'`,
	'na\u00efve \u65e5\u672c',
];
// '&amp;&lt;' must stay those characters, not become '&<' ('; ' may become ',' as in pyspy-fold)
const HOSTILE_ENTITY = /&amp[;,]&lt[;,]"quoted"'single'&#x41/;

// fullPage screenshots of an SVG document hang in chromium: size the viewport to the SVG instead
async function screenshot(page, file) {
	const size = await page.evaluate(() => {
		const b = document.documentElement.getBoundingClientRect();
		return { width: Math.ceil(b.width), height: Math.ceil(b.height) };
	});
	const vp = page.viewportSize();
	await page.setViewportSize({
		width: Math.min(Math.max(size.width, 200), 4000),
		height: Math.min(Math.max(size.height, 200), 4000),
	});
	await page.screenshot({ path: file, timeout: 10000 });
	if (vp) await page.setViewportSize(vp);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(fn, timeout = 2000, step = 50) {
	const end = Date.now() + timeout;
	let v;
	for (;;) {
		v = await fn();
		if (v || Date.now() > end) return v;
		await sleep(step);
	}
}

// Every frame box as the page shows it now.
function frames(page) {
	return page.evaluate((sel) => {
		return Array.from(document.querySelectorAll(sel)).map((g, i) => {
			const r = g.querySelector('rect');
			const t = g.querySelector('title');
			const b = (r || g).getBoundingClientRect();
			const gs = getComputedStyle(g);
			const rs = r ? getComputedStyle(r) : gs;
			const attrs = {};
			for (const a of g.attributes) attrs[a.name] = a.value;
			const name = g.hasAttribute('data-name') ? g.getAttribute('data-name') : t ? t.textContent : '';
			return {
				i,
				name,
				title: t ? t.textContent : null,
				samples: g.hasAttribute('data-samples') ? Number(g.getAttribute('data-samples')) : null,
				x: b.x,
				y: b.y,
				w: b.width,
				h: b.height,
				hidden:
					b.width < 0.5 ||
					gs.display === 'none' ||
					gs.visibility === 'hidden' ||
					rs.visibility === 'hidden' ||
					Number(gs.opacity) === 0,
				fill: rs.fill,
				label: (g.querySelector('text') || { textContent: '' }).textContent,
				attrs,
			};
		});
	}, SEL);
}

const text = (page, id) =>
	page.evaluate((id) => {
		const e = document.getElementById(id);
		return e ? e.textContent : null;
	}, id);

function fnRegex(fn) {
	// the function, not one whose name merely starts like it (hot_x, hot.inner)
	return new RegExp('^' + escapeRegex(fn) + '(?![\\w.])');
}

function percentIn(s) {
	const m = /(-?\d+(?:\.\d+)?)\s*%/.exec(s || '');
	return m ? parseFloat(m[1]) : NaN;
}

async function open(page, file) {
	const url = pathToFileURL(path.resolve(file)).href;
	await page.goto(url, { waitUntil: 'load' });
	await sleep(100);
}

async function pageProblems(page) {
	return page.evaluate(() => ({
		parseErrors: Array.from(document.getElementsByTagNameNS('*', 'parsererror')).map((e) => e.textContent),
		root: document.documentElement ? document.documentElement.localName : null,
		scripts: document.getElementsByTagNameNS('*', 'script').length,
		alertAttrs: Array.from(document.querySelectorAll('*')).flatMap((e) =>
			Array.from(e.attributes)
				.filter((a) => /^on/i.test(a.name) && /alert/.test(a.value))
				.map((a) => `${e.localName} ${a.name}=${a.value}`)
		),
		scriptAlerts: Array.from(document.getElementsByTagNameNS('*', 'script'))
			.filter((s) => /alert\(\d\)/.test(s.textContent))
			.map((s) => s.textContent.slice(0, 80)),
	}));
}

function checkClean(label, w) {
	R.check(`${label}: no uncaught script errors`, w.pageErrors.length === 0, w.pageErrors.map((e) => short(e)).join(' | '));
	R.check(`${label}: no console errors`, w.consoleErrors.length === 0, w.consoleErrors.map((e) => short(e)).join(' | '));
	R.check(`${label}: self-contained (no requests elsewhere)`, w.foreignRequests.length === 0, w.foreignRequests.slice(0, 5).join(' '));
}

async function testMain(ctx, file) {
	const page = await ctx.newPage();
	const url = pathToFileURL(path.resolve(file)).href;
	const w = watchPage(page, url);
	await open(page, file);
	const probs = await pageProblems(page);
	R.check('svg: parses as an SVG document', probs.root === 'svg' && probs.parseErrors.length === 0, short(probs.parseErrors.join(' | ') || `root <${probs.root}>`));
	const hooks = await page.evaluate(() => ({
		search: typeof window.pyspySearch,
		zoom: typeof window.pyspyZoom,
		ids: ['reset', 'search', 'matched', 'details'].filter((id) => !document.getElementById(id)),
	}));
	R.check('svg: has #reset #search #matched #details', hooks.ids.length === 0, `missing ${hooks.ids.map((i) => '#' + i).join(' ')}`);

	let fr = await frames(page);
	R.check(`svg: has frame boxes (${SEL})`, fr.length > 0, `no element matches ${SEL}`);
	if (!fr.length) {
		checkClean('svg', w);
		return { page, scripts: probs.scripts };
	}
	const hotRe = fnRegex(HOT);
	const coldRe = fnRegex(COLD);
	const visible = fr.filter((f) => !f.hidden);
	const root = visible.reduce((a, b) => (b.w > a.w ? b : a));
	const W0 = root.w;
	const X0 = root.x;
	const hots = visible.filter((f) => hotRe.test(f.name));
	const colds = visible.filter((f) => coldRe.test(f.name));
	R.check(`svg: a box for ${HOT}`, hots.length > 0, `no frame named ${HOT}; names: ${short([...new Set(fr.map((f) => f.name))].join(', '))}`);
	R.check(`svg: a box for ${COLD}`, colds.length > 0, `no frame named ${COLD}`);
	if (!hots.length) {
		checkClean('svg', w);
		return { page, scripts: probs.scripts };
	}
	const hot = hots.reduce((a, b) => (b.w > a.w ? b : a));
	R.note(`${fr.length} boxes, graph ${W0.toFixed(0)} px wide, widest ${HOT} box ${hot.w.toFixed(1)} px (#${hot.i})`);

	// (b) click to zoom, then reset
	try {
		await page.locator(SEL).nth(hot.i).click();
		const zoomed = await poll(async () => {
			const f = await frames(page);
			return f[hot.i].w >= 0.95 * W0 ? f : null;
		});
		const after = zoomed || (await frames(page));
		const h = after[hot.i];
		R.check(
			`zoom: clicked ${HOT} box spans the graph width`,
			!!zoomed && Math.abs(h.x - X0) <= 0.02 * W0,
			`width ${h.w.toFixed(1)} of ${W0.toFixed(1)} px, x ${h.x.toFixed(1)} vs ${X0.toFixed(1)}`
		);
		const shown = colds.filter((c) => {
			const a = after[c.i];
			return !(a.hidden || a.x >= X0 + W0 - 0.5 || a.x + a.w <= X0 + 0.5);
		});
		R.check(`zoom: sibling ${COLD} hidden or zero width`, colds.length > 0 && shown.length === 0, shown.map((c) => `#${c.i} w=${after[c.i].w.toFixed(1)}`).join(' '));
		const rootAfter = after[root.i];
		R.check('zoom: root stays visible (ancestor of the zoomed box)', !rootAfter.hidden, `root w=${rootAfter.w}`);

		const reset = page.locator('#reset');
		const clicked = (await reset.count()) > 0 ? await reset.click().then(() => null, (e) => e.message.split('\n')[0]) : 'no #reset';
		if (clicked) R.check('zoom: #reset restores every box', false, `cannot click #reset: ${clicked}`);
		else {
			const back = await poll(async () => {
				const f = await frames(page);
				return f.every((x, i) => Math.abs(x.w - fr[i].w) <= 0.5 && Math.abs(x.x - fr[i].x) <= 0.5 && x.hidden === fr[i].hidden) ? f : null;
			});
			let detail = '';
			if (!back) {
				const f = await frames(page);
				const bad = f.filter((x, i) => !(Math.abs(x.w - fr[i].w) <= 0.5 && Math.abs(x.x - fr[i].x) <= 0.5 && x.hidden === fr[i].hidden));
				detail = `${bad.length} boxes differ, e.g. ${bad.slice(0, 3).map((b) => `#${b.i} ${short(b.name, 30)} w ${fr[b.i].w.toFixed(1)}->${b.w.toFixed(1)} hidden ${fr[b.i].hidden}->${b.hidden}`).join('; ')}`;
			}
			R.check('zoom: #reset restores every box', !!back, detail);
		}

		if (hooks.zoom === 'function') {
			await page.evaluate(([sel, i]) => window.pyspyZoom(document.querySelectorAll(sel)[i]), [SEL, hot.i]);
			const z = await poll(async () => ((await frames(page))[hot.i].w >= 0.95 * W0 ? true : null));
			R.check('zoom: window.pyspyZoom(element) zooms too', !!z);
			await page.evaluate(() => window.pyspyResetZoom && window.pyspyResetZoom());
		} else R.note('window.pyspyZoom not defined (only the click path was tested)');
	} catch (e) {
		R.crash('zoom', e);
	}

	// (c) search: through the UI (prompt), then through the hook
	const matchedRe = new RegExp(SEARCH);
	async function checkSearch(how) {
		const f = await frames(page);
		const hit = f.filter((x) => matchedRe.test(x.name) || (x.title && matchedRe.test(x.title)));
		const strict = f.filter((x) => matchedRe.test(x.name));
		const changed = (x) => x.fill !== fr[x.i].fill;
		const notChanged = strict.filter((x) => !changed(x));
		R.check(`search (${how}): matching boxes change colour`, strict.length > 0 && notChanged.length === 0, `${notChanged.length} of ${strict.length} kept ${notChanged[0] ? notChanged[0].fill : ''}`);
		const others = f.filter((x) => !hit.includes(x) && changed(x));
		R.check(`search (${how}): other boxes keep their colour`, others.length === 0, `${others.length} changed, e.g. ${others.slice(0, 3).map((o) => short(o.name, 30)).join(', ')}`);
		const m = await text(page, 'matched');
		const p = percentIn(m);
		if (!Number.isNaN(SHARE))
			R.check(`search (${how}): #matched ≈ ${SHARE.toFixed(1)}% ±${TOL}`, Math.abs(p - SHARE) <= TOL, `#matched says ${JSON.stringify(m)}`);
		else R.check(`search (${how}): #matched shows a percentage`, !Number.isNaN(p), `#matched says ${JSON.stringify(m)}`);
		return p;
	}
	try {
		const search = page.locator('#search');
		if ((await search.count()) > 0) {
			w.expectDialog(SEARCH);
			const n0 = w.dialogs.length;
			await search.click();
			const got = await poll(() => w.dialogs.length > n0);
			R.check('search (UI): #search asks for a regex', got && w.dialogs[n0].type === 'prompt', got ? `a ${w.dialogs[n0].type}` : 'no dialog');
			if (!got) w.answers.length = 0;
			await poll(async () => !Number.isNaN(percentIn(await text(page, 'matched'))), 1000);
			await checkSearch('UI');
		} else R.check('search (UI): #search exists', false);
		if (hooks.search === 'function') {
			await open(page, file);
			await page.evaluate((re) => window.pyspySearch(re), SEARCH);
			await poll(async () => !Number.isNaN(percentIn(await text(page, 'matched'))), 1000);
			await checkSearch('pyspySearch');
		} else R.note('window.pyspySearch not defined (only the UI path was tested)');
	} catch (e) {
		R.crash('search', e);
	}

	// (d) hover shows function, file:line, samples and percent in #details
	try {
		await open(page, file);
		const f = await frames(page);
		const before = await text(page, 'details');
		await page.locator(SEL).nth(hot.i).hover();
		const d = await poll(async () => {
			const t = await text(page, 'details');
			return t && t !== before && t.includes(HOT) ? t : null;
		}, 1500);
		const det = d || (await text(page, 'details'));
		R.check(`hover: #details names ${HOT}`, !!d, `#details ${JSON.stringify(det)}`);
		const fileRe = new RegExp(escapeRegex(FILE) + ':\\d+');
		R.check(`hover: #details shows ${FILE}:LINE`, fileRe.test(det || ''), `#details ${JSON.stringify(det)}`);
		const n = f[hot.i].samples;
		const total = f[root.i].samples;
		if (n !== null && !Number.isNaN(n)) {
			const re = new RegExp(`(^|[^\\d.,])${n.toLocaleString('en-US').replace(/,/g, '[,\u202f ]?')}(?![\\d])`);
			R.check(`hover: #details shows the ${n} samples`, re.test(det || ''), `#details ${JSON.stringify(det)}`);
		} else R.check('hover: #details shows a sample count', /\d+\s*samples?/.test(det || ''), `#details ${JSON.stringify(det)}`);
		const p = percentIn(det);
		if (n && total) {
			const want = (100 * n) / total;
			R.check(`hover: #details shows ${want.toFixed(2)}%`, Math.abs(p - want) <= 0.51, `#details ${JSON.stringify(det)}`);
		} else R.check('hover: #details shows a percentage', !Number.isNaN(p), `#details ${JSON.stringify(det)}`);
	} catch (e) {
		R.crash('hover', e);
	}

	// a picture for humans: search highlighted, details of the hot box
	try {
		await open(page, file);
		const search = page.locator('#search');
		if (hooks.search === 'function') await page.evaluate((re) => window.pyspySearch(re), SEARCH);
		else if ((await search.count()) > 0) {
			w.expectDialog(SEARCH);
			await search.click();
			await sleep(200);
		}
		await page.locator(SEL).nth(hot.i).hover();
		await screenshot(page, SHOT);
		R.note(`screenshot ${SHOT}`);
	} catch (e) {
		R.note(`screenshot failed: ${e.message}`);
	}
	R.check('svg: no unexpected dialogs', w.unexpectedDialogs().length === 0, w.unexpectedDialogs().map((d) => `${d.type}: ${short(d.message, 60)}`).join(' | '));
	checkClean('svg', w);
	return { page, scripts: probs.scripts };
}

async function testHostile(ctx, file, normalScripts) {
	const page = await ctx.newPage();
	const url = pathToFileURL(path.resolve(file)).href;
	const w = watchPage(page, url);
	await open(page, file);
	await sleep(300);
	const probs = await pageProblems(page);
	R.check('hostile: parses as an SVG document', probs.root === 'svg' && probs.parseErrors.length === 0, short(probs.parseErrors.join(' | ') || `root <${probs.root}>`, 300));
	R.check('hostile: no dialog on load', w.dialogs.length === 0, w.dialogs.map((d) => `${d.type}: ${short(d.message, 60)}`).join(' | '));
	R.check(
		'hostile: no script or handler made from names',
		probs.alertAttrs.length === 0 && probs.scriptAlerts.length === 0 && (normalScripts === undefined || probs.scripts === normalScripts),
		`${probs.scripts} <script> (normal svg: ${normalScripts}), ${[...probs.alertAttrs, ...probs.scriptAlerts].join(' | ')}`
	);
	const fr = await frames(page);
	R.check('hostile: has frame boxes', fr.length > 0);
	const names = fr.map((f) => f.name);
	for (const t of HOSTILE_TEXTS) {
		const hit = fr.find((f) => f.name.includes(t) || (f.title || '').includes(t));
		R.check(`hostile: ${JSON.stringify(t)} shown as text`, !!hit, `not in any frame name/title; e.g. ${short(JSON.stringify(names.filter((n) => /alert|quoted|na/.test(n)).slice(0, 4)), 300)}`);
	}
	R.check(
		'hostile: "&amp;&lt;" kept literally (escaped once, not decoded)',
		fr.some((f) => HOSTILE_ENTITY.test(f.name) || HOSTILE_ENTITY.test(f.title || '')),
		short(JSON.stringify(names.filter((n) => /quoted/.test(n)).slice(0, 2)))
	);
	const file_ = fr.find((f) => (f.title || '').includes(`<b>&"'</b>`) || Object.values(f.attrs).some((v) => v.includes(`<b>&"'</b>`)));
	R.check(`hostile: file name <b>&"'</b>.py shown as text`, !!file_, 'not in any title or attribute');
	if (args['hostile-argv']) {
		const all = await page.evaluate(() => document.documentElement.textContent);
		const arg = args['hostile-argv'];
		// the subtitle may cut a long command line short: its start will do
		R.check(`hostile: command line ${JSON.stringify(arg)} shown as text`, all.includes(arg) || all.includes(' ' + arg.slice(0, 4)), 'not in the document text');
	}
	const bad = fr.filter((f) => /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(f.name + (f.title || '')));
	R.check('hostile: no control characters in names', bad.length === 0, short(JSON.stringify(bad.slice(0, 2).map((b) => b.name))));

	// hover and zoom on the hostile boxes; search for markup
	try {
		const targets = fr.filter((f) => !f.hidden && /alert|quoted|surrogate|ctl/.test(f.name)).slice(0, 12);
		let shown = 0;
		for (const t of targets) {
			await page.locator(SEL).nth(t.i).hover({ timeout: 2000 });
			const d = await text(page, 'details');
			if (t.name.includes('<script>alert(1)</script>') && d && d.includes('<script>alert(1)</script>')) shown++;
		}
		R.check('hostile: hover puts "<script>alert(1)</script>" in #details as text', shown > 0, `${targets.length} boxes hovered`);
		const s1 = fr.find((f) => !f.hidden && f.name.includes('<script>alert(1)</script>'));
		if (s1) await page.locator(SEL).nth(s1.i).click({ timeout: 2000 });
		if ((await page.locator('#reset').count()) > 0) await page.locator('#reset').click({ timeout: 2000 }).catch(() => {});
		const hasSearch = await page.evaluate(() => typeof window.pyspySearch === 'function');
		if (hasSearch) await page.evaluate(() => window.pyspySearch('<script>'));
		else if ((await page.locator('#search').count()) > 0) {
			w.expectDialog('<script>');
			await page.locator('#search').click();
		}
		await sleep(200);
		const m = await text(page, 'matched');
		R.check('hostile: search for "<script>" matches', percentIn(m) > 0, `#matched ${JSON.stringify(m)}`);
		const probs2 = await pageProblems(page);
		R.check('hostile: still no injected script after hover/zoom/search', probs2.alertAttrs.length === 0 && probs2.scriptAlerts.length === 0 && probs2.scripts === probs.scripts);
		await screenshot(page, SHOT.replace(/(\.png)?$/, '-hostile.png'));
	} catch (e) {
		R.crash('hostile: interact', e);
	}
	R.check('hostile: no dialog at all', w.unexpectedDialogs().length === 0, w.unexpectedDialogs().map((d) => `${d.type}: ${short(d.message, 60)}`).join(' | '));
	checkClean('hostile', w);
}

async function main() {
	const svg = args.svg || args._[0];
	if (!svg && !args.hostile) {
		console.error('usage: svg.test.mjs --svg FILE [--hot F --cold F --file NAME --share PCT] [--hostile FILE]');
		process.exit(2);
	}
	let browser;
	try {
		browser = await launch();
	} catch (e) {
		R.crash('launch chromium', e);
		R.finish();
		return;
	}
	try {
		let normalScripts;
		if (svg) {
			if (R.check(`svg: ${svg} exists and is not empty`, fs.existsSync(svg) && fs.statSync(svg).size > 0)) {
				try {
					const r = await testMain(browser.ctx, svg);
					normalScripts = r && r.scripts;
				} catch (e) {
					R.crash('svg', e);
				}
			}
		}
		if (args.hostile) {
			if (R.check(`hostile: ${args.hostile} exists and is not empty`, fs.existsSync(args.hostile) && fs.statSync(args.hostile).size > 0)) {
				try {
					await testHostile(browser.ctx, args.hostile, normalScripts);
				} catch (e) {
					R.crash('hostile', e);
				}
			}
		}
	} finally {
		await browser.close();
	}
	R.finish();
}

main().catch((e) => {
	R.crash('svg.test.mjs', e);
	R.finish();
});
