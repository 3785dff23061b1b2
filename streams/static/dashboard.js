// biosig live view: reads server-sent events from /events (streams/dashboard.py) and draws them
// with uPlot. State for tests and debugging is on window.biosigDash.
// Cost: an update changes text at once (a hold, a stale reading: never delayed), but a chart is
// redrawn only on the next animation frame, only if its data changed, and only while on screen
// (a hidden tab or a chart scrolled away is drawn once it shows). The page drew every chart at
// every update (20 a second), on screen or not: ~1000 redraws a second at 50 streams.
"use strict";
(function () {
  const WINDOW_S = 10, KEEP_S = 12;
  const COLORS = { trace: "#1f77b4", forecast: "#ff7f0e", quality: "#2ca02c", latency: "#9467bd" };
  const HOLD_FILL = "rgba(214, 39, 40, 0.18)";
  const D = window.biosigDash = {
    updates: 0, firstUpdateMs: null, data: {}, charts: {}, holdShown: {}, couchState: {},
    holdPeriods: {}, couchOf: {}, streams: {}, lastUpdate: null, draws: 0, live: false, lastMessageMs: null, connects: 0,
  };
  const LOST_AFTER_MS = 2000;   // the server pushes >= 10 updates a second: 2 s without one is a lost link
  const dirty = new Set(), offscreen = new Set();   // chart keys to redraw / not on screen now
  let drawQueued = false;
  const seen = "IntersectionObserver" in window ? new IntersectionObserver(entries => {
    for (const e of entries) {
      const key = e.target.dataset.chart;
      if (e.isIntersecting) { offscreen.delete(key); if (dirty.has(key)) schedule(); } else offscreen.add(key);
    }
  }, { rootMargin: "200px" }) : null;
  function schedule() { if (!drawQueued) { drawQueued = true; requestAnimationFrame(drawDirty); } }
  function markDirty(key) { if (D.charts[key]) { dirty.add(key); schedule(); } }
  function watch(node, key) { node.dataset.chart = key; if (seen) seen.observe(node); }
  // change a node only when its text or attribute differs (each change costs a style/layout pass)
  const setText = (n, t) => { if (n.textContent !== t) n.textContent = t; };
  const setData = (n, k, v) => { if (n.dataset[k] !== v) n.dataset[k] = v; };
  const $sources = document.getElementById("sources");

  function el(tag, attrs, parent) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    if (parent) parent.appendChild(e);
    return e;
  }
  // the units a stream declares ("mV"; "mm, m" when its channels differ; "no unit" when it gives none)
  const unitText = us => [...new Set((us || []).filter(x => x))].join(", ") || "no unit";
  // a chart's y ticks carry its stream's unit; redrawn when it changes ("no unit": plain numbers)
  function setUnit(c, text, key) {
    const u = text === "no unit" ? "" : text;
    if (c.yUnit.unit !== u) { c.yUnit.unit = u; markDirty(key); }
  }
  const fmt = (v, nd = 1) => (v === null || v === undefined || !isFinite(v)) ? "-" : Number(v).toFixed(nd);
  // how old a value is (wall time since its frame came), shown beside every value
  const ago = a => (a === null || a === undefined || !isFinite(a)) ? "" : ` (${fmt(a, 0)} s ago)`;

  // ---------------------------------------------------------------- data
  function append(key, cols) {
    let d = D.data[key];
    if (!d) d = D.data[key] = cols.map(() => []);
    if (d.length !== cols.length) d = D.data[key] = cols.map(() => []);
    // device time went back (a publisher restarted, a replay from its start): the rows at or after
    // the first new time go, as on the server (Series.add); uPlot needs times in order
    const t0 = cols[0].length ? cols[0][0] : null;
    let keep = d[0].length;
    while (t0 !== null && keep > 0 && d[0][keep - 1] >= t0) keep--;
    if (keep < d[0].length) for (const col of d) col.length = keep;
    for (let c = 0; c < cols.length; c++) for (const v of cols[c]) d[c].push(v);
    const t = d[0], newest = t[t.length - 1];
    let cut = 0;
    while (cut < t.length && t[cut] < newest - KEEP_S) cut++;
    if (cut > 0) for (const col of d) col.splice(0, cut);
  }

  // ---------------------------------------------------------------- layout
  function card(source) {
    const id = "src-" + source;
    let c = document.getElementById(id);
    if (!c) {
      c = el("section", { id: id, class: "card", "data-source": source });
      el("h2", { text: source }, c);
      // keep sources sorted by name
      const after = [...$sources.children].find(x => x.dataset.source > source);
      $sources.insertBefore(c, after || null);
    }
    return c;
  }

  function width(node) { return Math.max(300, node.clientWidth - 4); }

  // chart times: device times (Unix seconds) on this browser's clock, HH:MM:SS. They were the UTC
  // minutes and seconds ("08:42"), which read as a time of day and were not the viewer's clock
  const clock = t => new Date(t * 1000).toLocaleTimeString([], { hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function timeAxis() {
    return { scale: "x", space: 80, values: (u, ts) => ts.map(clock) };
  }
  // a y axis whose ticks carry the unit the stream declares (holder.unit: "" for none)
  const numTick = x => Math.abs(x) >= 1000 || (x !== 0 && Math.abs(x) < 0.01) ? x.toExponential(1) : String(+x.toPrecision(4));
  function valueAxis(holder) {
    return { size: 70, values: (u, v) => v.map(x => numTick(x) + (holder.unit ? " " + holder.unit : "")) };
  }
  const offsetText = () => {   // "UTC+01:00": the viewer's clock, said once in the footer
    const m = -new Date().getTimezoneOffset(), a = Math.abs(m);
    return `UTC${m < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  };

  function signalPanel(name, info) {
    const key = "sig/" + name;
    if (D.charts[key]) return D.charts[key].panel;
    const p = el("div", { class: "panel", id: "panel-" + name, "data-stream": name }, card(info.source));
    el("div", { class: "title", text: name }, p);
    const vals = el("div", { class: "vals" }, p);
    const score = el("div", { class: "score", id: "score-" + name, "data-ok": "none", text: "no score yet" }, p);
    const scoreAge = el("div", { class: "muted age", id: "score-age-" + name }, p);
    const box = el("div", {}, p);
    const qbox = el("div", {}, p);
    el("div", { class: "muted", text: "per window: quality (green, 0-1, left axis) and embedding latency (purple, ms, right axis)" }, p);
    const yUnit = { unit: "" };
    const u = new uPlot({
      width: width(p), height: 110, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false } },
      axes: [timeAxis(), valueAxis(yUnit)],
      series: [{}, { label: "signal", stroke: COLORS.trace, width: 1, spanGaps: false, points: { show: false } }],
    }, [[], []], box);
    const q = new uPlot({
      width: width(p), height: 70, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false }, q: { range: [0, 1] }, ms: { range: (u, lo, hi) => [0, Math.max(100, hi || 0)] } },
      axes: [{ show: false }, { scale: "q", size: 50, space: 15, values: (u, v) => v.map(x => x.toFixed(1)) },
             { scale: "ms", side: 1, size: 60, space: 15, grid: { show: false }, values: (u, v) => v.map(x => x + " ms") }],
      series: [{}, { label: "quality", scale: "q", stroke: COLORS.quality, width: 1.5, points: { size: 4 } },
               { label: "latency ms", scale: "ms", stroke: COLORS.latency, width: 1.5, points: { size: 4 } }],
    }, [[], [], []], qbox);
    D.charts[key] = { u, q, panel: p, vals, score, scoreAge, yUnit };
    watch(p, key);
    markDirty(key);
    return p;
  }

  function couchPanel(name, source) {
    const key = "couch/" + source;
    if (D.charts[key]) return D.charts[key];
    const p = el("div", { class: "panel couch", id: "couch-" + source, "data-source": source }, card(source));
    const head = el("div", {}, p);
    const badge = el("span", { class: "badge", id: "hold-" + source, "data-state": "none", text: "no forecast yet" }, head);
    el("span", { class: "title", text: name }, head);
    const age = el("span", { class: "muted age", id: "age-" + source }, head);
    const detail = el("div", { class: "detail", id: "detail-" + source }, p);   // why held, or why not current
    const vals = el("div", { class: "vals" }, p);
    const sel = el("select", { title: "coordinate" }, vals);
    const unit = el("span", { class: "unit", text: " unit: ?" }, vals);
    const info = el("span", {}, vals);
    const box = el("div", {}, p);
    const hooks = { drawClear: [u => shadeHolds(u, source)] };
    const yUnit = { unit: "" };
    const u = new uPlot({
      width: width(p), height: 170, legend: { show: true, live: false }, cursor: { show: false },
      scales: { x: { time: false } }, axes: [timeAxis(), valueAxis(yUnit)],
      series: [{}, { label: "marker", stroke: COLORS.trace, width: 1.5, spanGaps: true, points: { show: false } },
               { label: "forecast (drawn at t + h)", stroke: COLORS.forecast, width: 1.5, spanGaps: true, points: { show: false } }],
      hooks,
    }, [[], [], []], box);
    const c = D.charts[key] = { u, panel: p, badge, sel, info, unit, age, detail, yUnit, channels: [], holds: "" };
    D.couchOf[name] = key;
    sel.addEventListener("change", () => markDirty(key));
    watch(p, key);
    markDirty(key);
    return c;
  }

  function shadeHolds(u, source) {
    const periods = D.holdPeriods[source] || [];
    const ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    const [lo, hi] = [u.scales.x.min, u.scales.x.max];
    ctx.save();
    ctx.fillStyle = HOLD_FILL;
    for (const [t0, t1] of periods) {
      const a = Math.max(t0, lo), b = Math.min(t1 === null ? hi : t1, hi);
      if (!(b > a)) continue;
      const x0 = u.valToPos(a, "x", true), x1 = u.valToPos(b, "x", true);
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), h);
    }
    ctx.restore();
  }

  // ---------------------------------------------------------------- update
  function apply(up) {
    D.updates++;
    if (D.firstUpdateMs === null) D.firstUpdateMs = Date.now();
    D.lastMessageMs = Date.now();
    D.live = true;
    // a stream's fields come when they changed (streams/dashboard_state.py, changed_fields): merged
    const streams = {};
    for (const [name, s] of Object.entries(up.streams)) streams[name] = D.streams[name] = Object.assign(D.streams[name] || {}, s);
    for (const name of Object.keys(D.streams)) if (!streams[name]) delete D.streams[name];
    up.streams = streams;
    D.lastUpdate = up;
    for (const [key, cols] of Object.entries(up.new)) append(key, cols);
    D.holdPeriods = up.hold_periods;
    const rt = document.getElementById("runtime");
    const alive = up.hb_age_s !== null && up.hb_age_s < 3;
    setData(rt, "state", alive ? "alive" : (up.hb_age_s === null ? "unknown" : "lost"));
    const from = up.endpoint ? ` from ${up.endpoint}` : "";   // the output endpoint read: a wrong one shows
    setText(rt, alive ? "runtime alive" : (up.hb_age_s === null ?
      `waiting for the runtime: nothing${from} for ${fmt(up.waited_s, 0)} s (is it running, with this output?)` :
      `no heartbeat${from} for ${fmt(up.hb_age_s, 0)} s`));
    let taps = 0;
    for (const [name, s] of Object.entries(up.streams)) {
      if (s.modality === "motion") continue;   // shown with its couch
      signalPanel(name, s);
      if (D.data["sig/" + name]) taps++;
      const c = D.charts["sig/" + name];
      setUnit(c, unitText(s.units && s.units.slice(0, 1)), "sig/" + name);
      const lead = (s.channels || []).length ? ` · trace: ${s.channels[0]} (${unitText(s.units && s.units.slice(0, 1))})` : "";
      // no samples for a while (a lead off, a bed unplugged): said first, and the frozen trace is dimmed
      const noSignal = s.signal_stale || up.hb_age_s !== null && !alive;
      setData(c.panel, "stale", noSignal ? "yes" : "no");
      setText(c.vals, `${noSignal ? `NO SIGNAL for ${fmt(s.signal_age_s, 0)} s · ` : ""}` +
        `${s.modality || "?"}${s.fs_hz ? " " + fmt(s.fs_hz, 0) + " Hz" : ""}${lead}` +
        `${s.signal_age_s !== null && s.signal_age_s !== undefined ? " · last samples" + ago(s.signal_age_s) : ""} · window quality ` +
        `${fmt(s.quality, 2)} (0-1) · embedding latency ${fmt(s.latency_ms)} ms (last 100: p50 ${fmt(s.latency_p50_ms)} ms, ` +
        `p99 ${fmt(s.latency_p99_ms)} ms)${ago(s.window_age_s)} · ${s.windows} windows${s.model_id ? " · " + s.model_id : ""}`);
      if (s.score && (s.score_stale || up.hb_age_s !== null && !alive)) {   // no current reading: never the last one as if it were
        const why = s.signal_stale ? `no samples for ${fmt(s.signal_age_s, 0)} s` : `no new window for ${fmt(s.score_age_s, 0)} s`;
        setText(c.score, `NO CURRENT READING: ${why} (last: ${s.score})`);
        setData(c.score, "ok", "stale");
      } else if (s.score) {   // the window's measures and heads, or why they were withheld (streams/scores.py)
        setText(c.score, s.score);
        setData(c.score, "ok", s.score_ok ? "ok" : "withheld");
      } else if (c.score.dataset.ok === "stale") {   // the server came back without this stream's score yet
        setText(c.score, "NO CURRENT READING: no new window since the page reconnected");
      }
      setText(c.scoreAge, s.score ? `score line from a window that came${ago(s.score_age_s)}` : "");
    }
    for (const [name, s] of Object.entries(up.streams)) {
      if (s.modality === "motion") {   // the marker unit as the stream declares it (was "mm" whatever it said)
        const cp = couchPanel(name, s.source);
        setText(cp.unit, ` unit: ${unitText(s.units)}`);
        setUnit(cp, unitText(s.units), D.couchOf[name]);
        if (D.data["sig/" + name]) taps++;
      }
    }
    for (const [source, c] of Object.entries(up.couches)) {
      const cp = couchPanel(c.stream || source, source);
      const prev = D.couchState[source];
      const badge = cp.badge;
      if (c.state === "hold") {
        setData(badge, "state", "hold");
        setData(badge, "reason", c.reason);
        setText(badge, "HOLD: " + c.reason);
        if (!prev || prev.state !== "hold" || prev.reason !== c.reason) {
          D.holdShown[source] = { reason: c.reason, t_out_s: c.hold_t_out_s, shown_ms: Date.now() };
        }
      } else if (c.state === "forecast") {
        setData(badge, "state", "forecast");
        delete badge.dataset.reason;
        setText(badge, "FORECAST");
      } else {
        setData(badge, "state", "none");
        setText(badge, "no forecast yet");
      }
      let why = "";   // why the badge shows no current state, or why the source is held
      if (!alive) {   // never leave a green FORECAST up when the runtime has gone quiet
        setData(badge, "state", "none");
        setText(badge, "NO RUNTIME: do not act");
        why = "no heartbeat from the runtime: the last forecast or hold is not current";
      } else if (c.stale) {   // the runtime is up but this couch sent nothing for a while
        setData(badge, "state", "none");
        delete badge.dataset.reason;
        setText(badge, `NO CURRENT FORECAST for ${fmt(c.age_s, 0)} s: do not act`);
        why = `no forecast or hold frame for ${fmt(c.age_s, 0)} s (last: ${c.state === "hold" ? "HOLD " + c.reason : c.state})`;
      } else if (c.state === "hold") {
        why = c.detail ? `held: ${c.detail}` : `held: ${c.reason}`;
      }
      setText(cp.detail, why);
      const live = alive && !c.stale && c.state === "forecast";
      setData(cp.panel, "stale", live ? "no" : "yes");   // a held or stale forecast trace is dimmed
      D.couchState[source] = { state: c.state, reason: c.reason };
      const chans = c.channels || [];
      if (chans.length && cp.channels.join() !== chans.join()) {
        cp.channels = chans;
        cp.sel.replaceChildren(...chans.map((n, i) => el("option", { value: i, text: n })));
        cp.sel.value = String(Math.min(2, chans.length - 1));   // m1_z: the main breathing axis
        markDirty("couch/" + source);
      }
      if (c.method) {   // while held: no forecast number, only when the last one came
        setText(cp.info, ` · ${c.method} · h = ${fmt(c.horizon_s, 3)} s (${c.horizon_steps} samples) · ` + (live ?
          `forecast latency ${fmt(c.latency_ms, 1)} ms` : (c.forecast_age_s === null || c.forecast_age_s === undefined ? "no forecast yet" :
          `no current forecast (last one came${ago(c.forecast_age_s)})`)));
      }
      cp.badge.title = `last ${c.state === "hold" ? "hold" : "forecast"} frame${ago(c.age_s)}`;
      setText(cp.age, ago(c.age_s));
      const holds = JSON.stringify(up.hold_periods[source] || []);   // the shading changed: redraw
      if (holds !== cp.holds) { cp.holds = holds; markDirty("couch/" + source); }
    }
    forget(up);
    // the charts whose data changed (a couch draws its marker stream and its forecast)
    for (const key of Object.keys(up.new)) {
      const [kind, name] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
      if (kind === "fcst") markDirty("couch/" + name);
      else if (D.charts["sig/" + name]) markDirty("sig/" + name);
      else if (D.couchOf[name]) markDirty(D.couchOf[name]);
    }
    const any = Object.keys(up.streams).length > 0;
    document.getElementById("tapnote").hidden = !any || taps > 0;
    setText(document.getElementById("rate"), `${D.updates} updates`);
  }

  // streams and couches the server forgot (nothing from them for forget_s) leave the page
  function forget(up) {
    for (const [key, c] of Object.entries(D.charts)) {
      const gone = key.startsWith("sig/") ? !up.streams[key.slice(4)]
        : !up.couches[key.slice(6)] && !up.streams[c.panel.querySelector(".title").textContent];
      if (!gone) continue;
      c.u.destroy();
      if (c.q) c.q.destroy();
      if (seen) seen.unobserve(c.panel);
      dirty.delete(key); offscreen.delete(key);
      const card = c.panel.parentNode;
      c.panel.remove();
      delete D.charts[key];
      if (key.startsWith("sig/")) { delete D.data[key]; delete D.data["q/" + key.slice(4)]; }
      else {
        const source = key.slice(6), name = c.panel.querySelector(".title").textContent;
        delete D.data["fcst/" + source]; delete D.data["sig/" + name];
        delete D.couchState[source]; delete D.holdShown[source]; delete D.couchOf[name];
      }
      if (card && !card.querySelector(".panel")) card.remove();
    }
  }

  // on the next animation frame (none while the tab is hidden): the dirty charts on screen
  function drawDirty() {
    drawQueued = false;
    for (const key of dirty) {
      const c = D.charts[key];
      if (!c) { dirty.delete(key); continue; }
      if (offscreen.has(key)) continue;   // drawn when it scrolls into view
      dirty.delete(key);
      drawChart(key, c);
    }
  }

  function drawChart(key, c) {
    D.draws++;
    if (key.startsWith("sig/")) {
      const d = D.data[key];
      if (d && d[0].length) {
        const tmax = d[0][d[0].length - 1];
        c.u.batch(() => { c.u.setData([d[0], d[1]], false); c.u.setScale("x", { min: tmax - WINDOW_S, max: tmax }); });
        const q = D.data["q/" + key.slice(4)];
        if (q) c.q.batch(() => { c.q.setData(q, false); c.q.setScale("x", { min: tmax - WINDOW_S, max: tmax }); });
      }
    } else if (key.startsWith("couch/")) {
      const source = key.slice(6), k = Number(c.sel.value || 0);
      const name = c.panel.querySelector(".title").textContent;
      const m = D.data["sig/" + name], f = D.data["fcst/" + source];
      const parts = [];
      parts.push(m && m[1 + k] ? [m[0], m[1 + k]] : [[], []]);
      parts.push(f && f[1 + k] ? [f[0], f[1 + k]] : [[], []]);
      const joined = uPlot.join(parts);
      if (joined[0].length) {
        const tmax = joined[0][joined[0].length - 1];
        c.u.batch(() => { c.u.setData(joined, false); c.u.setScale("x", { min: tmax - WINDOW_S, max: tmax }); });
      }
    }
  }

  // The link to the dashboard server is lost (it stopped, restarted, or hangs): nothing on the page
  // is current, so no reading, trace or FORECAST may look it. It said "retrying" in the header
  // only: the last HR stayed in green and the badge said FORECAST until the page was reloaded.
  function lost(why) {
    D.live = false;
    const rt = document.getElementById("runtime");
    setData(rt, "state", "lost");
    setText(rt, `dashboard server unreachable (${why}); reconnecting`);
    for (const [key, c] of Object.entries(D.charts)) {
      if (key.startsWith("sig/")) {
        setData(c.panel, "stale", "yes");
        if (c.score.dataset.ok !== "none" && c.score.dataset.ok !== "stale") {
          setText(c.score, `NO CURRENT READING: dashboard server unreachable (last: ${c.score.textContent})`);
          setData(c.score, "ok", "stale");
        }
      } else {
        setData(c.badge, "state", "none");
        delete c.badge.dataset.reason;
        setText(c.badge, "NO DASHBOARD SERVER: do not act");
        setData(c.panel, "stale", "yes");
        setText(c.detail, "the dashboard server is unreachable: nothing here is current");
      }
    }
  }

  // The first update on a connection (ours or the browser's own retry) is the server's full state: it replaces
  // what the page held of each stream. Merged, a restarted server's stream without a score yet kept the last
  // HR from before the restart, in green and with no age, until its next window.
  let es = null, retryMs = 500, fresh = true;
  function connect() {
    D.connects++;
    es = new EventSource("/events");
    es.onopen = () => { retryMs = 500; fresh = true; };   // the browser's own retries open too
    es.onmessage = ev => {
      try {
        const up = JSON.parse(ev.data);
        if (fresh) { D.streams = {}; fresh = false; }
        apply(up);
      } catch (e) { console.error(e); D.lastError = String(e); }
    };
    es.onerror = () => {
      lost("connection failed");
      if (es.readyState === EventSource.CLOSED) reconnect();   // the browser gave up: we do not
    };
  }
  function reconnect() {
    if (es) es.close();
    es = null;
    setTimeout(connect, retryMs);
    retryMs = Math.min(2 * retryMs, 5000);
  }
  // an open connection on which nothing comes (the server hangs) is lost too, and is reopened
  setInterval(() => {
    if (D.lastMessageMs === null || Date.now() - D.lastMessageMs <= LOST_AFTER_MS) return;
    if (D.live) lost(`no update for ${fmt((Date.now() - D.lastMessageMs) / 1e3, 0)} s`);
    if (es && es.readyState === EventSource.OPEN && Date.now() - D.lastMessageMs > 2.5 * LOST_AFTER_MS) {
      D.lastMessageMs = Date.now();   // the next try gets its own LOST_AFTER_MS
      reconnect();
    }
  }, 250);
  window.addEventListener("resize", () => {
    for (const c of Object.values(D.charts)) {
      const w = width(c.panel);
      c.u.setSize({ width: w, height: c.u.height });
      if (c.q) c.q.setSize({ width: w, height: c.q.height });
    }
  });
  const tz = document.getElementById("tz");
  if (tz) tz.textContent = `this browser's clock (${offsetText()})`;
  connect();
})();
