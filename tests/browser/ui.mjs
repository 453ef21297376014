// ui.mjs - the browse pages in a real browser (Debian's chromium through playwright-core),
// for tests/integration/t-ui.sh: one session that opens the home page, searches, follows
// links to a package and a release, checks what they show and that nothing runs.
//
// Environment: BASE (http://127.0.0.1:PORT), ARTIFACTS (screenshots go there), CHROMIUM
// (the browser), USERPASS ("user:password" of a reader of the private package), OCI
// ("1" when the helm pull oci:// command is expected).
// Output: one line per check, "ok<TAB>what" or "not ok<TAB>what<TAB>why", in the order of
// CHECKS below (t-ui.sh counts them); a line "launch-failed<TAB>why" when the browser
// does not start. Exit status 0 unless the browser could not be driven at all.
import { chromium } from 'playwright-core';

const env = (k) => {
	const v = process.env[k];
	if (!v) throw new Error(`${k} is not set`);
	return v;
};
const BASE = env('BASE');
const ART = env('ARTIFACTS');
const HOST = new URL(BASE).host;
const [USER, PASS] = env('USERPASS').split(':');
const OCI = process.env.OCI === '1';

export const CHECKS = [
	'home: title and namespaces',
	'home: a private package is not shown to an anonymous visitor',
	'search box: results for "webap" link to ui/webapp',
	'package page: reached by its link, header and releases',
	'package page: the copy commands',
	'package page: the channel and its current release',
	'release page: reached by its link, Chart.yaml fields',
	'release page: README.md rendered, its raw HTML shown as text',
	'release page: values.yaml shown as text',
	'hostile metadata: shown as text, no element made of it',
	'private package: 404 page for an anonymous visitor',
	'private package: shown with credentials',
	'namespace page: a link to the next page',
	'phone width: no horizontal scrolling of the page',
	'no dialog opened',
	'no console errors and no page errors',
];

const results = [];
const check = (what, cond, why = '') => results.push([what, !!cond, why]);
const print = () => {
	for (const [what, pass, why] of results)
		console.log(pass ? `ok\t${what}` : `not ok\t${what}\t${why}`);
};

let browser;
try {
	browser = await chromium.launch({
		executablePath: env('CHROMIUM'),
		args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
		timeout: 30000,
	});
} catch (e) {
	console.log(`launch-failed\t${String(e.message || e).split('\n')[0]}`);
	process.exit(0);
}

const errors = [];
const dialogs = [];
const expect404 = `${BASE}/packages/ui/secret`;  // asked for on purpose: its load error is
const watch = (page) => {                         // the one expected
	page.on('console', (m) => {
		if (m.type() !== 'error') return;
		if (m.location().url === expect404 && /status of 404/.test(m.text())) return;
		errors.push(`console: ${m.text()} (${m.location().url})`);
	});
	page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
	page.on('dialog', async (d) => {
		dialogs.push(d.message());
		await d.dismiss();
	});
};
const shot = (page, name) => page.screenshot({ path: `${ART}/${name}.png`, fullPage: true });
const text = (page, sel) => page.locator(sel).first().innerText({ timeout: 5000 }).catch(() => '');

try {
	const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
	const page = await ctx.newPage();
	watch(page);

	// home
	let r = await page.goto(`${BASE}/`);
	const title = await page.title();
	const nsText = await text(page, 'table.namespaces');
	const kv = !(await page.locator('table.namespaces').count());
	const homeText = await page.locator('main').innerText();
	check(CHECKS[0], r.status() === 200 && /appr/.test(title) &&
		(kv ? /ui\/webapp/.test(homeText) || /Packages/.test(homeText) : /\bui\b/.test(nsText)),
		`status ${r.status()}, title ${title}`);
	check(CHECKS[1], !/secret/.test(homeText), 'home names ui/secret');
	await shot(page, 'home');

	// the search box
	await page.fill('input[name=q]', 'webap');
	await Promise.all([page.waitForURL(/\/search\?q=webap/), page.press('input[name=q]', 'Enter')]);
	const found = page.locator('table.packages a[href="/packages/ui/webapp"]');
	check(CHECKS[2], (await found.count()) === 1, `url ${page.url()}`);
	await shot(page, 'search');

	// the package
	await Promise.all([page.waitForURL(/\/packages\/ui\/webapp$/), found.click()]);
	const h1 = await text(page, 'h1');
	const rel = await text(page, 'table.releases');
	check(CHECKS[3], /ui\/webapp/.test(h1) && /1\.1\.0/.test(rel) && /1\.0\.0/.test(rel) &&
		rel.indexOf('1.1.0') < rel.indexOf('1.0.0') && /helm/.test(rel), `h1 ${h1}`);
	const cmds = await text(page, 'dl.commands');
	const want = [
		`appr pull ${HOST}/ui/webapp@1.1.0`,
		`helm repo add ui http://${HOST}/helm/ui`,
		'helm install webapp ui/webapp --version 1.1.0',
		`curl -fo webapp-1.1.0.tar.gz http://${HOST}/api/v1/packages/ui/webapp/blobs/sha256/`,
	];
	if (OCI) want.push(`helm pull oci://${HOST}/ui/webapp --version 1.1.0 --plain-http`);
	const missing = want.filter((w) => !cmds.includes(w));
	check(CHECKS[4], missing.length === 0 && (OCI || !cmds.includes('oci://')),
		`missing: ${missing.join(' | ')}; got: ${cmds}`);
	const chans = await text(page, 'table.channels');
	check(CHECKS[5], /stable/.test(chans) && /1\.0\.0/.test(chans), `channels: ${chans}`);
	await page.setViewportSize({ width: 900, height: 700 });
	await shot(page, 'package');
	await page.setViewportSize({ width: 1100, height: 800 });

	// the release
	await Promise.all([page.waitForURL(/\/packages\/ui\/webapp\/1\.1\.0$/),
		page.locator('table.releases a', { hasText: '1.1.0' }).first().click()]);
	const fields = await text(page, 'dl.chart');
	check(CHECKS[6], /webapp/.test(fields) && /1\.1\.0/.test(fields) &&
		/test chart webapp/.test(fields), `Chart.yaml fields: ${fields}`);
	const readme = page.locator('div.readme');
	const rtext = await text(page, 'div.readme');
	check(CHECKS[7], (await readme.locator('h1', { hasText: 'Webapp chart' }).count()) === 1 &&
		(await readme.locator('table').count()) === 1 &&
		(await readme.locator('script, img[src="x"]').count()) === 0 &&
		rtext.includes('<script>alert("readme")</script>'), `readme: ${rtext}`);
	const values = await text(page, 'pre.values');
	check(CHECKS[8], values.includes('image: example/webapp:1.1.0') &&
		values.includes('<b>not bold</b>'), `values: ${values}`);
	await shot(page, 'release');

	// hostile metadata
	r = await page.goto(`${BASE}/packages/ui/evil`);
	const desc = await text(page, 'p.description');
	const injected = await page.locator('main script, main img, img[src="x"]').count();
	check(CHECKS[9], r.status() === 200 && desc.includes('<script>alert(1)</script>') &&
		desc.includes('"><img src=x onerror=alert(2)>') && injected === 0 &&
		(await page.locator('script').count()) === 0, `description: ${desc}, injected ${injected}`);
	await shot(page, 'evil');

	// the private package
	r = await page.goto(expect404);
	check(CHECKS[10], r.status() === 404 && /404/.test(await text(page, 'h1')) &&
		!/secret chart/.test(await page.content()), `status ${r.status()}`);
	// anonymous reads are allowed, so no 401 asks for credentials: Basic sent at once
	const basic = Buffer.from(`${USER}:${PASS}`).toString('base64');
	const priv = await browser.newContext({ extraHTTPHeaders: { Authorization: `Basic ${basic}` } });
	const ppage = await priv.newPage();
	watch(ppage);
	r = await ppage.goto(`${BASE}/packages/ui/secret`);
	const ph1 = await text(ppage, 'h1');
	r = r.status() === 200 ? await ppage.goto(`${BASE}/packages/ui`) : r;
	const listed = await text(ppage, 'table.packages');
	check(CHECKS[11], r.status() === 200 && /private/.test(ph1) && /ui\/secret/.test(listed),
		`status ${r.status()}, h1 ${ph1}`);
	await priv.close();

	// pagination
	r = await page.goto(`${BASE}/packages/pg`);
	const next = page.locator('a[rel=next]');
	let paged = r.status() === 200 && (await next.count()) === 1;
	if (paged) {
		await Promise.all([page.waitForURL(/after=/), next.click()]);
		const t2 = await text(page, 'table.packages');
		paged = /pg\/pkg-50/.test(t2) && !/pg\/pkg-00/.test(t2) &&
			(await page.locator('a[rel=next]').count()) === 0;
	}
	check(CHECKS[12], paged, `url ${page.url()}`);

	// phone width
	await page.setViewportSize({ width: 375, height: 740 });
	await page.goto(`${BASE}/packages/ui/webapp`);
	const wide = await page.evaluate(() => document.documentElement.scrollWidth);
	check(CHECKS[13], wide <= 375, `scrollWidth ${wide}`);
	await shot(page, 'package-phone');

	check(CHECKS[14], dialogs.length === 0, `dialogs: ${dialogs.join(' | ')}`);
	check(CHECKS[15], errors.length === 0, errors.join(' | '));
} catch (e) {
	check('the browser session ran to its end', false, String(e.stack || e).replace(/\s+/g, ' '));
} finally {
	print();
	await browser.close();
}
