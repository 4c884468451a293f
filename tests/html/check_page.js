// check_page.js PAGE.html [SCREENSHOT.png] - opens a faultline HTML report in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// and prints one JSON object of what it found: network requests made,
// console errors, markers drawn against the page's syscall total, the
// tooltip of a hovered marker, a flame graph search, where a hostile string
// ended up, and the time from navigation to the page being drawn.
// Used by tests/e2e/95-html.t and bench/html.sh.
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

async function main() {
	const [page_path, shot, search = 'main', hostile = ''] = process.argv.slice(2);
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu'],
	});
	const out = { requests: [], console_errors: [], page_errors: [], dialogs: 0 };
	try {
		const ctx = await browser.newContext({ viewport: { width: 1240, height: 900 } });
		const page = await ctx.newPage();
		const url = require('url').pathToFileURL(path.resolve(page_path)).href;
		page.on('request', (r) => { if (r.url() !== url) out.requests.push(r.url()); });
		page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
		page.on('pageerror', (e) => out.page_errors.push(String(e)));
		page.on('dialog', (d) => { out.dialogs++; d.dismiss(); });
		const t0 = Date.now();
		await page.goto(url, { waitUntil: 'load' });
		await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
		out.render_ms = Date.now() - t0;
		out.nav_ms = await page.evaluate(() => {
			const n = performance.getEntriesByType('navigation')[0];
			return n ? Math.round(n.loadEventEnd) : null;
		});
		Object.assign(out, await page.evaluate(() => {
			const d = JSON.parse(document.getElementById('faultline-data').textContent);
			const s = d.summary.syscalls;
			return {
				markers_drawn: document.querySelectorAll('#timeline rect.marker').length,
				markers_in_data: d.markers.rows.length,
				syscalls_total: Object.keys(s).reduce((a, k) => a + s[k], 0),
				markers_total: d.markers.total,
				command_text: document.getElementById('command').textContent,
				title: document.title,
				imgs: document.querySelectorAll('img').length,
				flame: !!document.getElementById('flame'),
				warnings: Array.prototype.map.call(document.querySelectorAll('.warning'), (w) => w.textContent),
				not_available: document.querySelectorAll('.na').length,
				legend: document.querySelector('.legend') ? document.querySelector('.legend').textContent : '',
				series: Array.prototype.map.call(document.querySelectorAll('#timeline path.series'),
					(p) => p.getAttribute('data-series')),
				threshold_rows: document.querySelectorAll('tr.threshold').length,
			};
		}));
		// hover the marker of an mmap (else the first one) and read the tooltip
		const sel = (await page.$('#timeline rect.marker.k-mmap')) ? '#timeline rect.marker.k-mmap' : '#timeline rect.marker';
		const marks = await page.$$(sel);
		out.hover = [];
		for (const m of marks.slice(-3)) {
			await m.hover({ force: true });
			out.hover.push(await page.evaluate(() => {
				const t = document.getElementById('tip');
				return t.style.display === 'block' ? t.textContent : null;
			}));
		}
		if (out.flame) {
			await page.fill('#flame-search', search);
			out.search_found = await page.textContent('#flame-found');
			out.search_matches = await page.$$eval('#flame rect.match', (r) => r.length);
			if (hostile) {
				await page.fill('#flame-search', hostile);
				out.hostile_matches = await page.$$eval('#flame rect.match', (r) => r.length);
				out.hostile_in_text = await page.$$eval('#flame text',
					(t, h) => t.some((e) => e.textContent.indexOf(h.slice(0, 8)) >= 0), hostile);
				await page.fill('#flame-search', search);
			}
		}
		// -f: one process's markers and levels
		out.pids = await page.$$eval('#timeline-pid option', (o) => o.map((x) => x.value).filter((v) => v));
		if (out.pids.length) {
			const pid = out.pids[out.pids.length - 1];
			await page.selectOption('#timeline-pid', pid);
			out.pid_markers_shown = await page.$$eval('#timeline rect.marker', (r) => r.filter((e) => e.style.display !== 'none').length);
			out.pid_markers_in_data = await page.evaluate((p) => {
				const d = JSON.parse(document.getElementById('faultline-data').textContent);
				return d.markers.rows.filter((r) => String(r[d.markers.fields.indexOf('pid')]) === p).length;
			}, pid);
			out.pid_series = await page.$$eval('#timeline path.series', (p) => p.filter((e) => (e.getAttribute('d') || '').length > 0).length);
		}
		if (hostile)
			out.hostile_shown = await page.evaluate((h) => document.body.textContent.indexOf(h) >= 0, hostile);
		out.imgs_after = await page.$$eval('img', (i) => i.length);
		if (shot) {
			// with the tooltip of the first mmap an allocator call made (seed_claims:
			// malloc(131072)'s) when there is one
			const i = await page.$$eval('#timeline rect.marker',
				(r) => r.findIndex((e) => e.__data__.sys === 'mmap' && e.__data__.call));
			await page.mouse.move(0, 0);
			await page.evaluate(() => { document.getElementById('tip').style.display = 'none'; });
			if (i >= 0)
				await (await page.$$('#timeline rect.marker'))[i].hover({ force: true });
			await page.screenshot({ path: shot, fullPage: false });
		}
	} finally {
		await browser.close();
	}
	console.log(JSON.stringify(out));
}

main().catch((e) => { console.error('check_page: ' + e); process.exit(1); });
