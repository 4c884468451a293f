/* page.js - the script of faultline's HTML report (embedded by the build,
 * run with d3 3.5, Debian's libjs-d3). It reads the page's data (the JSON
 * element #faultline-data: the summary of `report --format json`, with the
 * heap analyses under "analyses" when the report has them, plus the syscall
 * markers, a timeline taken from the recording and the folded stacks) and
 * draws the warnings, the timeline, the flame graph and the tables. Every
 * string from the recording reaches the DOM as text (textContent, d3's
 * .text()), never as markup. */
(function () {
	'use strict';

	var D = JSON.parse(document.getElementById('faultline-data').textContent);
	var S = D.summary;
	var A = S.analyses || (S.extra && S.extra.analyses) || null;
	var app = document.getElementById('app');
	var tip = document.createElement('div');
	var KINDS = ['brk', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise'];
	var COLORS = { live: '#1f77b4', heap: '#d62728', mmap: '#2ca02c', held: '#ff7f0e', resident: '#9467bd' };

	/* ---- small helpers ---------------------------------------------------- */

	function el(parent, tag, text, cls) {
		var e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		if (parent)
			parent.appendChild(e);
		return e;
	}

	function bytes(n) {
		var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
		n = Number(n);
		while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
		return (i === 0 || n % 1 === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + u[i];
	}

	function ms(ns) {
		return (ns / 1e6).toFixed(ns < 1e7 ? 3 : 1) + ' ms';
	}

	/* cells: strings or numbers; a number is right-aligned (class num). */
	function table(parent, head, rows, rowClass) {
		var t = el(parent, 'table'), tr = el(t, 'tr');
		head.forEach(function (h) { el(tr, 'th', h); });
		rows.forEach(function (r, i) {
			var row = el(t, 'tr', null, rowClass ? rowClass(r, i) : null);
			r.forEach(function (c) {
				el(row, 'td', typeof c === 'number' ? c.toLocaleString('en') : c,
				   typeof c === 'number' ? 'num' : null);
			});
		});
		return t;
	}

	function box(parent, title) {
		var d = el(parent, 'div');
		el(d, 'h3', title);
		return d;
	}

	function notAvailable(parent, what) {
		el(parent, 'p', what + ': not available in this report (the heap analyses are written by ' +
		   'a faultline whose `report --format json` has "analyses").', 'na');
	}

	/* Folded frames are escaped (\x20 for a space, \x3b for ';', \\ ...):
	 * shown as the characters they stand for, as text. */
	function unfold(s) {
		return s.replace(/\\(x[0-9a-fA-F]{2}|\\|n|r|t)/g, function (m, c) {
			if (c[0] === 'x') return String.fromCharCode(parseInt(c.slice(1), 16));
			return c === '\\' ? '\\' : c === 'n' ? '\n' : c === 'r' ? '\r' : '\t';
		});
	}

	function showTip(ev, text) {
		tip.textContent = text;
		tip.style.display = 'block';
		tip.style.left = Math.max(0, Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8)) + 'px';
		tip.style.top = Math.max(0, Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8)) + 'px';
	}

	function hideTip() { tip.style.display = 'none'; }

	function nonZero(obj) {
		return Object.keys(obj || {}).filter(function (k) { return obj[k]; });
	}

	function sum(obj) {
		return Object.keys(obj || {}).reduce(function (a, k) { return a + obj[k]; }, 0);
	}

	/* ---- header and warnings ---------------------------------------------- */

	function header() {
		var cmd = (S.target.command || []).join(' '), m;
		document.title = 'faultline: ' + cmd;
		el(app, 'h1', 'faultline report');
		el(app, 'div', cmd, 'mono').id = 'command';
		m = el(app, 'div', null, 'meta');
		el(m, 'span', 'pid ' + S.target.pid);
		el(m, 'span', 'exit ' + (S.target.exit_status === null ? 'not seen' : S.target.exit_status));
		el(m, 'span', 'duration ' + ms(S.duration_ns));
		el(m, 'span', 'allocator ' + (S.extra.allocator || '?'));
		el(m, 'span', 'mode ' + S.extra.mode);
	}

	function warnings() {
		var w = [];
		if (S.lost_events)
			w.push(S.lost_events.toLocaleString('en') + ' events were lost (the kernel could not queue ' +
			       'them): every count below is a lower bound.');
		if (S.extra.truncated)
			w.push('The recording was cut short (it did not finish): this report covers its whole blocks only.');
		if (S.extra.orphan_events)
			w.push(S.extra.orphan_events + ' events were tagged with a call whose return was never seen.');
		w.forEach(function (t) { el(app, 'div', t, 'warning'); });
	}

	/* ---- timeline ---------------------------------------------------------- */

	/* The series, each with its points ({t, v}): live, heap, mmap and held
	 * from the heap analyses' timeline when the report has one at least as
	 * fine as the one the page's writer took from the recording (else from
	 * that one), and resident bytes from the analyses (the recording alone
	 * has no resident model). */
	function timelineSeries(pid) {
		var t = !pid && A && A.timeline && A.timeline.points && A.timeline.points.length ? A.timeline.points : [];
		var one = pid && (D.timeline.processes || []).filter(function (p) { return String(p.pid) === pid; })[0];
		var f = D.timeline.fields, rec = (one || D.timeline).points.map(function (r) {
			var o = {};
			f.forEach(function (k, i) { o[k === 't_ns' ? 't' : k] = r[i]; });
			return o;
		});
		var ana = t.map(function (p) {
			return { t: p.t_ns, live: p.live, heap: p.heap, mmap: p.mmap, held: p.held, resident: p.resident };
		});
		var base = ana.length && ana.length >= rec.length ? ana : rec, out = [];
		['live', 'heap', 'mmap', 'held', 'resident'].forEach(function (k) {
			var src = k === 'resident' ? ana : base;
			if (src.some(function (p) { return p[k] !== undefined && p[k] !== null; }))
				out.push({ key: k, source: src === ana ? 'analyses' : 'recording',
					   pts: src.map(function (p) { return { t: p.t, v: p[k] || 0 }; }) });
		});
		return out;
	}

	function markerRows() {
		var f = D.markers.fields;
		return D.markers.rows.map(function (r) {
			var o = {};
			f.forEach(function (k, i) { o[k] = r[i]; });
			return o;
		}).sort(function (a, b) { return a.t_ns - b.t_ns; }); /* threads' clocks may interleave */
	}

	function markerText(m) {
		var s = (m.call ? '#' + m.call_seq + ' ' + m.call : 'outside any allocator call') + ' \u2192 ' + m.what;
		s += '\nsyscall #' + m.seq + ' at ' + ms(m.t_ns) + ', pid ' + m.pid;
		if (m.size) s += ', ' + bytes(m.size);
		if (m.first_touches)
			s += '\nfirst touches that followed on its block: ' + m.first_touches;
		return s;
	}

	function timeline() {
		var sec = el(app, 'section'), sets = timelineSeries(), marks = markerRows();
		var bis = d3.bisector(function (p) { return p.t; });
		var names = { live: 'live bytes', heap: 'heap extent (brk)', mmap: 'allocator mappings',
			      held: 'held but not live', resident: 'resident allocator bytes' };
		var W = Math.max(600, Math.min(1168, (app.clientWidth || 1100))), H = 260, LANE = 14;
		var m = { l: 70, r: 10, t: 8, b: 22 }, w = W - m.l - m.r;
		var pids = d3.set(marks.map(function (d) { return d.pid; }).concat((D.timeline.processes || [])
			.map(function (p) { return p.pid; }))).values();
		var tmax = d3.max([d3.max(sets, function (s) { return d3.max(s.pts, function (p) { return p.t; }); }) || 0,
				   d3.max(marks, function (d) { return d.t_ns; }) || 0, S.duration_ns, 1]);
		var x = d3.scale.linear().domain([0, tmax]).range([0, w]);
		var y = d3.scale.linear().domain([0, 1]).range([H, 0]);
		var total = H + m.t + m.b + KINDS.length * LANE + 10;
		var svg, g, lines, lanes, xAxis, zoom, controls, legend, sel;

		el(sec, 'h2', 'Timeline');
		el(sec, 'p', 'Memory over time (' + (sets.length && sets[0].source === 'analyses' ?
			'from the heap analyses\' timeline' : 'taken from the recording: held = heap + mappings - live' +
			(sets.some(function (s) { return s.source === 'analyses'; }) ? '; resident bytes from the heap analyses' : '')) +
			'), and every memory syscall as a marker in its lane. Drag to pan, wheel to zoom, hover a marker for its call.',
			'note');
		var thinned = KINDS.filter(function (k) { return D.markers.by_kind[k].every > 1; });
		if (thinned.length)
			el(sec, 'div', 'Showing ' + marks.length.toLocaleString('en') + ' of ' +
			   D.markers.total.toLocaleString('en') + ' syscalls as markers (' + thinned.map(function (k) {
				   var b = D.markers.by_kind[k];
				   return k + ': one in ' + b.every + ' of ' + b.total.toLocaleString('en');
			   }).join(', ') + '; the other kinds all).', 'warning');
		controls = el(sec, 'div', null, 'controls');
		el(controls, 'button', 'reset zoom').id = 'timeline-reset';
		if (pids.length > 1) {
			el(controls, 'span', 'process: ');
			sel = el(controls, 'select');
			sel.id = 'timeline-pid';
			el(sel, 'option', 'all').value = '';
			pids.forEach(function (p) { el(sel, 'option', p).value = p; });
		}
		legend = el(sec, 'div', null, 'legend');
		sets.forEach(function (set) {
			var s = el(legend, 'span');
			el(s, 'i').style.background = COLORS[set.key];
			s.appendChild(document.createTextNode(names[set.key]));
		});

		svg = d3.select(sec).append('svg').attr('id', 'timeline').attr('width', W).attr('height', total);
		svg.append('defs').append('clipPath').attr('id', 'tl-clip').append('rect')
			.attr('width', w).attr('height', total);
		g = svg.append('g').attr('transform', 'translate(' + m.l + ',' + m.t + ')');
		g.append('rect').attr('width', w).attr('height', total - m.t).style('fill', 'none')
			.style('pointer-events', 'all');
		xAxis = d3.svg.axis().scale(x).orient('bottom').ticks(8)
			.tickFormat(function (v) { return (v / 1e6) + ' ms'; });
		g.append('g').attr('class', 'axis y');
		g.append('g').attr('class', 'axis x').attr('transform', 'translate(0,' + H + ')').call(xAxis);
		lines = g.append('g').attr('clip-path', 'url(#tl-clip)');
		function makeLines() {
			lines.selectAll('path').remove();
			sets.forEach(function (set) {
				lines.append('path').datum(set.pts).attr('class', 'series s-' + set.key).attr('data-series', set.key);
			});
		}
		makeLines();
		lanes = g.append('g').attr('transform', 'translate(0,' + (H + m.b) + ')');
		KINDS.forEach(function (k, i) {
			lanes.append('text').attr('class', 'lane-label').attr('x', -6).attr('y', i * LANE + 10)
				.attr('text-anchor', 'end').text(k);
		});
		var mg = lanes.append('g').attr('clip-path', 'url(#tl-clip)');
		var dots = mg.selectAll('rect.marker').data(marks).enter().append('rect')
			.attr('class', function (d) { return 'marker k-' + d.sys; })
			.attr('y', function (d) { return KINDS.indexOf(d.sys) * LANE + 1; })
			.attr('width', 4).attr('height', LANE - 3)
			.on('mouseover', function (d) { showTip(d3.event, markerText(d)); })
			.on('mousemove', function (d) { showTip(d3.event, markerText(d)); })
			.on('mouseout', hideTip);
		/* the sizes of the series under the pointer */
		g.select('rect').on('mousemove', function () {
			var px = d3.mouse(this)[0], t = x.invert(px), near = nearestMarker(px), text;
			if (!sets.length || d3.mouse(this)[1] > H || t < 0) return hideTip();
			text = ms(t) + '\n' + sets.map(function (set) {
				var p = set.pts[Math.max(0, bis.right(set.pts, t) - 1)];
				return names[set.key] + ': ' + bytes(p ? p.v : 0);
			}).join('\n');
			/* the syscall drawn nearest the pointer (within 4 px): what moved the lines there */
			if (near)
				text += '\n\nnearest syscall:\n' + markerText(near);
			showTip(d3.event, text);
		}).on('mouseout', hideTip);

		var mbis = d3.bisector(function (d) { return d.t_ns; });

		/* markers are in time order: the one nearest pixel px, if within 4 px */
		function nearestMarker(px) {
			var t = x.invert(px), i = mbis.left(marks, t), best = null, bd = 5;
			[i - 1, i].forEach(function (k) {
				var d = marks[k], dist = d ? Math.abs(x(d.t_ns) - px) : 1e9;
				if (d && dist < bd && (!sel || !sel.value || String(d.pid) === sel.value)) { best = d; bd = dist; }
			});
			return best;
		}

		var yAxis = d3.svg.axis().scale(y).orient('left').ticks(6).tickFormat(function (v) { return bytes(v); });

		/* the y axis fits what is in view: zoomed into the start, the
		 * 132 KiB heap steps are not flattened by a later 1 MiB mapping */
		function fitY() {
			var dom = x.domain();
			var top = d3.max(sets, function (set) {
				var lo = Math.max(0, bis.right(set.pts, dom[0]) - 1), hi = bis.right(set.pts, dom[1]);
				return d3.max(set.pts.slice(lo, Math.max(hi, lo + 1)), function (p) { return p.v; });
			}) || 1;
			y.domain([0, top * 1.05]);
			g.select('.axis.y').call(yAxis);
		}

		function draw() {
			fitY();
			sets.forEach(function (set) {
				lines.select('.s-' + set.key).attr('d', d3.svg.line().interpolate('step-after')
					.x(function (p) { return x(p.t); }).y(function (p) { return y(p.v); }));
			});
			dots.attr('x', function (d) { return x(d.t_ns) - 2; });
			g.select('.axis.x').call(xAxis);
		}
		zoom = d3.behavior.zoom().x(x).scaleExtent([1, 1e7]).on('zoom', draw);
		svg.call(zoom);
		document.getElementById('timeline-reset').onclick = function () {
			zoom.scale(1).translate([0, 0]);
			draw();
		};
		if (sel)
			sel.onchange = function () {
				var v = sel.value;
				dots.style('display', function (d) { return !v || String(d.pid) === v ? null : 'none'; });
				/* that process's own levels when the recording has them (else all processes') */
				sets = timelineSeries(v);
				makeLines();
				draw();
			};
		draw();
	}

	/* ---- flame graph --------------------------------------------------------- */

	function flameTree(rows) {
		var root = { name: 'all', children: [], map: {} };
		rows.forEach(function (r) {
			var node = root;
			r[0].split(';').forEach(function (f) {
				var c = node.map[f];
				if (!c) {
					c = { name: unfold(f), children: [], map: {}, self: 0 };
					node.map[f] = c;
					node.children.push(c);
				}
				node = c;
			});
			node.self += r[1];
		});
		(function fix(n) {
			/* a frame's own count is a child of its own, so partition's sums stay right */
			n.children.forEach(fix);
			if (n.self && n.children.length)
				n.children.push({ name: '', own: true, value: n.self, children: [] });
			else if (!n.children.length)
				n.value = n.self;
			delete n.map;
		})(root);
		return root;
	}

	function flame() {
		var sec = el(app, 'section'), metric = 'syscalls', controls, search, found, holder;
		var W = Math.max(600, Math.min(1168, (app.clientWidth || 1100))), ROW = 17;
		var units = { syscalls: 'syscalls', faults: 'first touches', bytes: 'bytes' };

		el(sec, 'h2', 'Flame graph (icicle) of the recorded stacks');
		if (!D.flame) {
			el(sec, 'p', 'No stacks in this recording: record it with --stacks (or --stacks=all for bytes of every call).', 'na');
			return;
		}
		el(sec, 'p', 'Each box is a frame, callers above callees, as wide as its share of the metric. Click a box ' +
		   'to zoom into it, click the top row to zoom out; search highlights frames whose name contains the text.',
		   'note');
		controls = el(sec, 'div', null, 'controls');
		Object.keys(D.flame).forEach(function (k) {
			var b = el(controls, 'button', k);
			b.setAttribute('data-metric', k);
			b.onclick = function () { metric = k; render(); };
		});
		search = el(controls, 'input');
		search.id = 'flame-search';
		search.placeholder = 'search function';
		found = el(controls, 'span', '', 'note');
		found.id = 'flame-found';
		holder = el(sec, 'div');

		function render() {
			var data = D.flame[metric], tree = flameTree(data.rows), nodes, depth, svg, x, focus;
			Array.prototype.forEach.call(controls.querySelectorAll('button'), function (b) {
				b.className = b.getAttribute('data-metric') === metric ? 'on' : '';
			});
			holder.textContent = '';
			if (data.left_out)
				el(holder, 'div', 'The ' + data.stacks + ' stacks were cut to the ' + D.limits.stacks_per_metric +
				   ' largest; ' + data.left_out + ' ' + units[metric] + ' are in the ones left out.', 'note');
			if (!data.rows.length) {
				el(holder, 'p', 'No stack has a count of ' + units[metric] + '.', 'na');
				found.textContent = '';
				return;
			}
			nodes = d3.layout.partition().sort(null).value(function (d) { return d.value; })
				.children(function (d) { return d.children.length ? d.children : null; })
				.size([1, 1]).nodes(tree);
			depth = d3.max(nodes, function (d) { return d.depth; }) + 1;
			x = d3.scale.linear().range([0, W]);
			svg = d3.select(holder).append('svg').attr('class', 'flame').attr('id', 'flame')
				.attr('data-metric', metric).attr('width', W).attr('height', depth * ROW);
			focus = tree;

			function draw() {
				x.domain([focus.x, focus.x + focus.dx]);
				var vis = nodes.filter(function (d) {
					return !d.own && x(d.x + d.dx) > 0 && x(d.x) < W && (x(d.x + d.dx) - x(d.x)) >= 0.5;
				});
				var gs = svg.selectAll('g.frame').data(vis, function (d, i) { return d.depth + ':' + d.x + ':' + d.name; });
				var ne = gs.enter().append('g').attr('class', 'frame');
				ne.append('rect').attr('height', ROW - 1)
					.style('fill', function (d) { return d3.hsl(20 + (hash(d.name) % 40), .75, .62 + (d.depth % 2) * .06); })
					.on('click', function (d) { focus = d === focus ? (d.parent || tree) : d; draw(); })
					.on('mousemove', function (d) {
						showTip(d3.event, d.name + '\n' + d.value.toLocaleString('en') + ' ' + units[metric] +
							' (' + (100 * d.value / tree.value).toFixed(1) + '%)');
					})
					.on('mouseout', hideTip);
				ne.append('text').attr('y', ROW - 5);
				gs.exit().remove();
				gs.attr('transform', function (d) { return 'translate(' + Math.max(0, x(d.x)) + ',' + d.depth * ROW + ')'; });
				gs.select('rect').attr('width', function (d) {
					return Math.max(0.5, Math.min(W, x(d.x + d.dx)) - Math.max(0, x(d.x)));
				});
				gs.select('text').attr('x', 3).text(function (d) {
					var px = Math.min(W, x(d.x + d.dx)) - Math.max(0, x(d.x)), n = Math.floor((px - 6) / 6.5);
					return n < 3 ? '' : d.name.length <= n ? d.name : d.name.slice(0, n - 1) + '\u2026';
				});
				mark();
			}

			function mark() {
				var q = search.value.toLowerCase(), hit = 0, frames = 0;
				svg.selectAll('g.frame rect').classed('match', function (d) {
					var m = q && d.name.toLowerCase().indexOf(q) >= 0;
					return !!m;
				});
				if (!q) { found.textContent = ''; return; }
				/* the share of the metric under a matching frame, not counted twice when nested */
				(function walk(n, under) {
					var m = n.name.toLowerCase().indexOf(q) >= 0 && !n.own;
					if (m) frames++;
					if (m && !under) hit += n.value;
					(n.children || []).forEach(function (c) { walk(c, under || m); });
				})(tree, false);
				found.textContent = frames + ' frames match: ' + (100 * hit / tree.value).toFixed(1) + '% of ' + units[metric];
			}
			search.oninput = mark;
			draw();
		}
		render();
	}

	function hash(s) {
		var h = 0;
		for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
		return h;
	}

	/* ---- tables ------------------------------------------------------------- */

	function sites(parent, list, what) {
		if (!list || !list.length) {
			el(parent, 'p', 'none', 'na');
			return;
		}
		table(parent, [what, 'site'], list.map(function (s) { return [s.count, s.site]; }));
	}

	function tables() {
		var sec = el(app, 'section'), row, b, callers, cs;
		el(sec, 'h2', 'Summary');
		row = el(sec, 'div', null, 'tables');

		b = box(row, 'Calls by function');
		table(b, ['function', 'calls'], nonZero(S.calls).map(function (k) { return [k, S.calls[k]]; }));
		el(b, 'p', 'nested (inside another allocator call): ' + S.extra.nested_calls + '; free(NULL): ' +
		   S.extra.frees_null + '; free of an unknown pointer: ' + S.extra.frees_unknown, 'note');

		b = box(row, 'Syscalls by kind');
		table(b, ['syscall', 'count'], KINDS.map(function (k) { return [k, S.syscalls[k] || 0]; })
		      .concat([['total', sum(S.syscalls)]]));

		b = box(row, 'Syscalls by caller');
		callers = Object.keys(S.syscalls_by_caller).filter(function (k) { return sum(S.syscalls_by_caller[k]); });
		table(b, ['caller'].concat(KINDS), callers.map(function (k) {
			return [k === 'none' ? 'outside any call' : k].concat(KINDS.map(function (s) {
				return S.syscalls_by_caller[k][s] || 0;
			}));
		}));

		b = box(row, 'Page faults by owner and mode');
		var ft = S.extra.first_touch_by_owner || {};
		table(b, ['owner', 'faults', 'first touches'], ['allocation', 'allocator', 'other'].map(function (k) {
			return [k, S.faults[k] || 0, ft[k] || 0];
		}).concat([['total', S.faults.total, S.extra.first_touch_faults]]));
		el(b, 'p', 'user mode ' + S.faults.user_mode + ', kernel mode ' + S.faults.kernel_mode +
		   ' (a kernel-mode fault is the kernel touching the program\'s memory, e.g. read() into it)', 'note');

		b = box(row, 'Memory');
		table(b, ['', 'bytes'], [['requested', bytes(S.bytes.requested)], ['peak live', bytes(S.bytes.peak_live)],
			['peak heap (brk)', bytes(S.bytes.peak_heap)], ['peak allocator mappings', bytes(S.bytes.peak_mmap)],
			['most held but not live', bytes(S.extra.peak_unused)]]);

		/* the heap analyses */
		sec = el(app, 'section');
		el(sec, 'h2', 'Heap analyses');
		row = el(sec, 'div', null, 'tables');
		b = box(row, 'Request sizes');
		if (A && A.sizes) {
			table(b, ['size class', 'calls', 'bytes', 'syscalls', 'first touches'], A.sizes.map(function (c) {
				return [c.min === c.max ? bytes(c.min) : bytes(c.min) + ' to <' + bytes(c.max + 1), c.calls, c.bytes,
					c.syscalls, c.first_touches];
			}), function (r, i) {
				var c = A.sizes[i];
				return c.min <= 131072 && 131072 <= c.max ? 'threshold' : null;
			});
			el(b, 'p', 'highlighted: the class holding glibc\'s default mmap threshold (128 KiB); it moves up after a free of an mmapped block', 'note');
			if (A.mmap_threshold && A.mmap_threshold.moves && A.mmap_threshold.moves.length)
				el(b, 'p', 'the mmap threshold moved: ' + A.mmap_threshold.moves.map(function (mv) {
					return 'to ' + bytes(mv.threshold) + ' at #' + mv.seq + ' (' + ms(mv.ts_ns) + ')';
				}).join(', ') + '; the next request above 128 KiB but below it comes from the heap (brk)', 'note');
		} else
			notAvailable(b, 'Request sizes');

		b = box(row, 'Leaks');
		if (A && A.leaks) {
			el(b, 'p', A.leaks.blocks + ' blocks, ' + bytes(A.leaks.bytes) + ' still live at ' +
			   (A.leaks.at || 'the end') + (A.leaks.by ? ', by ' + A.leaks.by : '') +
			   (A.leaks.touched_pages !== undefined ? '; ' + A.leaks.touched_pages + ' of their pages touched' : '') +
			   (A.leaks.exact === false ? ' (estimates)' : ''));
			table(b, ['bytes', 'blocks', 'touched pages', 'site'], (A.leaks.sites || []).map(function (s) {
				return [s.bytes, s.blocks, s.touched_pages, s.site || (s.frames || []).join(' < ')];
			}));
		} else
			notAvailable(b, 'Leaks');

		b = box(row, 'Peak');
		if (A && A.peak) {
			el(b, 'p', bytes(A.peak.live_bytes) + ' live at ' + ms(A.peak.ts_ns - (S.extra.first_ts_ns || 0)) +
			   ' (event #' + A.peak.seq + ')');
			table(b, ['bytes', 'blocks', 'site'], (A.peak.sites || []).map(function (s) {
				return [s.bytes, s.blocks, s.site || (s.frames || []).join(' < ')];
			}));
		} else
			notAvailable(b, 'Peak contributors');

		b = box(row, 'Temporary allocations');
		if (A && A.temporary) {
			el(b, 'p', A.temporary.calls + (A.temporary.of_calls ? ' of ' + A.temporary.of_calls : '') +
			   ' calls freed before their thread\'s next allocation');
			table(b, ['calls', 'syscalls', 'first touches', 'site'], (A.temporary.sites || []).map(function (s) {
				return [s.calls, s.syscalls, s.first_touches, s.site || (s.frames || []).join(' < ')];
			}));
		} else
			notAvailable(b, 'Temporary allocations');

		b = box(row, 'Resident memory');
		if (A && A.resident) {
			var rr = [['model', bytes(A.resident.model_bytes)],
				  ['kernel (smaps Rss)', A.resident.kernel_bytes === null ? 'not read' : bytes(A.resident.kernel_bytes)]];
			if (A.resident.allocator_bytes !== undefined)
				rr.push(['allocator\'s, at the end', bytes(A.resident.allocator_bytes)]);
			if (A.resident.peak_allocator_bytes !== undefined)
				rr.push(['allocator\'s, at its peak', bytes(A.resident.peak_allocator_bytes) +
					 (A.resident.peak_ts_ns !== undefined ? ' at ' + ms(A.resident.peak_ts_ns) : '')]);
			table(b, ['', 'bytes'], rr);
			if (A.resident.by_region && A.resident.by_region.length)
				table(b, ['pid', 'mapping', 'model', 'kernel'], A.resident.by_region.slice(0, 20).map(function (g) {
					return [g.pid, g.name || '', bytes(g.model_bytes || 0), bytes(g.kernel_bytes || 0)];
				}));
		} else
			notAvailable(b, 'Resident memory');

		sec = el(app, 'section');
		el(sec, 'h2', 'Top call sites');
		cs = S.extra.call_sites;
		if (!cs) {
			el(sec, 'p', 'No stacks in this recording: record it with --stacks.', 'na');
			return;
		}
		row = el(sec, 'div', null, 'tables');
		sites(box(row, 'by syscalls'), cs.syscalls, 'syscalls');
		sites(box(row, 'by first-touch faults'), cs.faults, 'faults');
		sites(box(row, 'by bytes'), cs.bytes, 'bytes');
	}

	tip.className = 'tip';
	tip.id = 'tip';
	app.textContent = '';
	header();
	warnings();
	timeline();
	flame();
	tables();
	el(app, 'p', 'Made by faultline (report --format html). Drawn with d3 ' + d3.version +
	   ' (Copyright (C) 2010-2016 Michael Bostock, BSD-3-Clause licence).', 'note');
	document.body.appendChild(tip);
	document.body.setAttribute('data-ready', '1');
})();
