/*
 * The analyst's page: lists of strategy runs and series with their state (from /api/runs and
 * /api/series), and the chosen one's timeline (/api/runs/:id/readiness or
 * /api/series/:id/coverage). The choice lives in the URL hash (#run=ID or #series=ID), so a view
 * can be bookmarked or sent to someone.
 */
/* global window, document, fetch, location, URLSearchParams */
(function () {
  'use strict';
  var T = window.CoverageTimeline;
  var el = T.el;
  var timeline = null;

  function getJson(url) {
    return fetch(url).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.message || res.statusText);
        return body;
      });
    });
  }

  function verdictBadge(v) {
    return el('span', { class: 'verdict verdict-' + v, 'data-verdict': v, text: v.replace('_', ' ') });
  }

  function short(isoTime) {
    return isoTime ? isoTime.replace('T', ' ').replace(/:00Z$|Z$/, '') : '';
  }

  function loadRuns() {
    return getJson('/api/runs?limit=200').then(function (body) {
      var tbody = document.querySelector('#runs tbody');
      tbody.textContent = '';
      body.runs.forEach(function (r) {
        var tr = el('tr', { class: 'pick run-row', 'data-run': r.id }, [
          el('td', { text: r.id }),
          el('td', { class: 'num', text: String(r.series) }),
          el('td', { text: r.window ? short(r.window.from).slice(5) + ' to ' + short(r.window.to).slice(5) : '' }),
          el('td', { class: 'num', text: r.gaps.missing + ' of ' + r.gaps.total }),
          el('td', {}, [verdictBadge(r.verdict)]),
        ]);
        tr.addEventListener('click', function () {
          location.hash = 'run=' + encodeURIComponent(r.id);
        });
        tbody.appendChild(tr);
      });
      if (body.runs.length === 0)
        tbody.appendChild(el('tr', {}, [el('td', { colspan: '5', text: 'No strategy run yet.' })]));
    });
  }

  function loadSeries() {
    var params = new URLSearchParams({ limit: '500' });
    new window.FormData(document.getElementById('series-filter')).forEach(function (v, k) {
      if (String(v).trim() !== '') params.set(k, String(v).trim());
    });
    return getJson('/api/series?' + params.toString()).then(function (body) {
      var tbody = document.querySelector('#series tbody');
      tbody.textContent = '';
      body.series.forEach(function (s) {
        var byKind = s.gaps.by_kind;
        var tr = el('tr', { class: 'pick series-row', 'data-series': String(s.id), 'data-key': s.key }, [
          el('td', { title: s.key, text: s.venue + ' ' + s.symbol + ' ' + s.timeframe }),
          el('td', { text: short(s.last_bar).slice(5) }),
          el('td', { class: 'exporter-' + s.exporter, text: s.exporter }),
          el('td', {
            class: 'num',
            title: 'OFFLINE ' + byKind.OFFLINE + ', NO_ACTIVITY ' + byKind.NO_ACTIVITY + ', UNKNOWN ' + byKind.UNKNOWN,
            text: String(s.gaps.total),
          }),
          el('td', { class: 'num', text: String(s.gaps.missing_bars) }),
          el('td', {}, [verdictBadge(s.verdict)]),
        ]);
        tr.addEventListener('click', function () {
          location.hash = 'series=' + s.id;
        });
        tbody.appendChild(tr);
      });
      document.getElementById('series-total').textContent =
        body.total > body.series.length ? 'Showing ' + body.series.length + ' of ' + body.total + ' series.' : '';
    });
  }

  function showChosen() {
    var m = /^#(run|series)=(.+)$/.exec(location.hash);
    var detail = document.getElementById('detail');
    document.querySelectorAll('tr.chosen').forEach(function (tr) {
      tr.classList.remove('chosen');
    });
    if (!m) return;
    var kind = m[1];
    var id = decodeURIComponent(m[2]);
    var row = document.querySelector(kind === 'run' ? 'tr[data-run="' + id + '"]' : 'tr[data-series="' + id + '"]');
    if (row) row.classList.add('chosen');
    var url =
      kind === 'run'
        ? '/api/runs/' + encodeURIComponent(id) + '/readiness'
        : '/api/series/' + encodeURIComponent(id) + '/coverage';
    detail.setAttribute('data-state', 'loading');
    getJson(url).then(
      function (data) {
        if (timeline) timeline.destroy();
        timeline = T.renderDetail(detail, { kind: kind, data: data });
        // For a person at the browser console (timeline.setWindow(...)) and for scripted screenshots.
        window.coverageTimeline = timeline;
        detail.setAttribute('data-state', 'ready');
      },
      function (err) {
        detail.textContent = '';
        detail.appendChild(el('p', { class: 'none', text: 'Could not load: ' + err.message }));
        detail.setAttribute('data-state', 'error');
      },
    );
  }

  document.getElementById('series-filter').addEventListener('submit', function (e) {
    e.preventDefault();
    loadSeries();
  });
  window.addEventListener('hashchange', showChosen);
  Promise.all([loadRuns(), loadSeries()]).then(
    function () {
      document.body.setAttribute('data-loaded', 'true');
      showChosen();
    },
    function (err) {
      document.getElementById('detail').textContent = 'Could not load the lists: ' + err.message;
    },
  );
})();
