/*
 * The coverage timeline, shared by the page (workers/read-api/page/app.js) and the one-file HTML
 * export of `make coverage ... HTML=file`. Draws one lane per series with vis-timeline: covered
 * time in green, each gap coloured by kind (OFFLINE, NO_ACTIVITY, UNKNOWN) and patterned by status
 * (solid OPEN, striped BACKFILL_REQUESTED, cross-hatched NO_DATA, heavy border UNFILLABLE, outline
 * only FILLED), the exporter's offline periods as a grey band. Zoom with the wheel, pan by dragging;
 * hovering a gap shows its range, missing bars, kind and status.
 */
/* global vis, window, document */
(function () {
  'use strict';

  var KINDS = ['OFFLINE', 'NO_ACTIVITY', 'UNKNOWN'];
  var STATUSES = ['OPEN', 'BACKFILL_REQUESTED', 'NO_DATA', 'UNFILLABLE', 'FILLED'];
  var STATUS_LOOK = {
    OPEN: 'solid, still missing',
    BACKFILL_REQUESTED: 'striped, history requested',
    NO_DATA: 'cross-hatched, no history either',
    UNFILLABLE: 'double border, requests exhausted',
    FILLED: 'dashed outline, bars there now',
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function fmt(isoTime) {
    return isoTime.replace('T', ' ').replace(/:00Z$|Z$/, '') + ' UTC';
  }

  function tooltipFor(gap) {
    return (
      gap.kind +
      ' gap, ' +
      gap.status +
      '\n[' +
      fmt(gap.from) +
      ', ' +
      fmt(gap.to) +
      ')\n' +
      gap.missing_bars +
      ' missing bar' +
      (gap.missing_bars === 1 ? '' : 's') +
      (gap.backfill_requests ? ', ' + gap.backfill_requests + ' history request(s)' : '')
    );
  }

  /** vis-timeline items and groups for lanes ({series, range, covered, gaps, offline}). */
  function toItems(lanes) {
    var items = [];
    var groups = [];
    lanes.forEach(function (lane, i) {
      var group = 'lane-' + i;
      groups.push({ id: group, content: lane.series.key, title: lane.series.key });
      lane.offline.forEach(function (o, j) {
        items.push({
          id: group + '-off-' + j,
          group: group,
          type: 'background',
          className: 'offline',
          start: o.from,
          end: o.to,
          title: 'exporter offline [' + fmt(o.from) + ', ' + (o.ongoing ? 'ongoing' : fmt(o.to)) + ')',
        });
      });
      lane.covered.forEach(function (c, j) {
        items.push({
          id: group + '-cov-' + j,
          group: group,
          type: 'range',
          className: 'covered',
          content: '',
          start: c.from,
          end: c.to,
          title: 'covered [' + fmt(c.from) + ', ' + fmt(c.to) + ')\n' + c.bars + ' bars',
        });
      });
      lane.gaps.forEach(function (g) {
        items.push({
          id: g.gap_id,
          group: group,
          type: 'range',
          className: 'gap kind-' + g.kind + ' status-' + g.status,
          content: '',
          start: g.from,
          end: g.to,
          title: tooltipFor(g),
        });
      });
    });
    return { items: items, groups: groups };
  }

  function legend(lanes) {
    var counts = {};
    lanes.forEach(function (lane) {
      lane.gaps.forEach(function (g) {
        counts[g.kind] = (counts[g.kind] || 0) + 1;
      });
    });
    function entry(swatchClass, label, attrs) {
      return el('span', Object.assign({ class: 'legend-entry' }, attrs || {}), [
        el('span', { class: 'swatch ' + swatchClass }),
        label,
      ]);
    }
    var box = el('div', { class: 'legend' }, [entry('covered', 'covered'), entry('offline', 'exporter offline')]);
    KINDS.forEach(function (k) {
      box.appendChild(entry('gap kind-' + k + ' status-OPEN', k + ' (' + (counts[k] || 0) + ')', { 'data-kind': k }));
    });
    var statuses = el('div', { class: 'legend' });
    STATUSES.forEach(function (s) {
      statuses.appendChild(entry('gap kind-UNKNOWN status-' + s, s + ': ' + STATUS_LOOK[s]));
    });
    return el('div', {}, [box, statuses]);
  }

  function gapTable(lanes) {
    var rows = [];
    lanes.forEach(function (lane) {
      lane.gaps.forEach(function (g) {
        rows.push(
          el('tr', { class: 'gap-row', 'data-kind': g.kind, 'data-status': g.status }, [
            el('td', { text: lane.series.key }),
            el('td', { text: fmt(g.from) }),
            el('td', { text: fmt(g.to) }),
            el('td', { class: 'num', text: String(g.missing_bars) }),
            el('td', {}, [el('span', { class: 'badge kind-' + g.kind, text: g.kind })]),
            el('td', { text: g.status }),
            el('td', { class: 'num', text: String(g.backfill_requests) }),
          ]),
        );
      });
    });
    if (rows.length === 0) return el('p', { class: 'none', text: 'No gap in this range.' });
    var head = el(
      'tr',
      {},
      ['series', 'from', 'to (excl.)', 'missing bars', 'kind', 'status', 'history requests'].map(function (h) {
        return el('th', { text: h });
      }),
    );
    return el('table', { class: 'gaps' }, [el('thead', {}, [head]), el('tbody', {}, rows)]);
  }

  /**
   * Renders a detail view into `container`: a series' coverage ({kind: 'series', data: lane}) or a
   * run's readiness ({kind: 'run', data: readiness}). Returns the vis Timeline.
   */
  function renderDetail(container, view) {
    container.textContent = '';
    var lanes = view.kind === 'run' ? view.data.series : [view.data];
    var title;
    var verdict;
    if (view.kind === 'run') {
      title = 'Strategy run ' + view.data.run.id;
      verdict = view.data.verdict;
    } else {
      title = view.data.series.key;
      verdict = view.data.summary.verdict;
    }
    var range = view.kind === 'run' ? view.data.window : view.data.range;
    container.appendChild(el('h2', { class: 'detail-title', text: title }));
    var facts = el('p', { class: 'facts' }, [
      el('span', { class: 'verdict verdict-' + verdict, 'data-verdict': verdict, text: verdict.replace('_', ' ') }),
      range ? ' window [' + fmt(range.from) + ', ' + fmt(range.to) + ')' : ' no bars seen',
      view.kind === 'run' ? ', ' + lanes.length + ' series' : '',
    ]);
    container.appendChild(facts);
    container.appendChild(legend(lanes));
    var holder = el('div', { class: 'timeline' });
    container.appendChild(holder);
    container.appendChild(el('h3', { text: 'Gaps' }));
    container.appendChild(gapTable(lanes));

    var data = toItems(lanes);
    var options = {
      stack: false,
      zoomable: true,
      moveable: true,
      showCurrentTime: false,
      orientation: 'top',
      margin: { item: 2 },
      zoomMin: 60 * 1000,
      tooltip: { followMouse: true, overflowMethod: 'cap' },
      moment: function (date) {
        return vis.moment(date).utc();
      },
      groupHeightMode: 'fixed',
    };
    if (range) {
      var pad = (Date.parse(range.to) - Date.parse(range.from)) * 0.02;
      options.start = new Date(Date.parse(range.from) - pad);
      options.end = new Date(Date.parse(range.to) + pad);
    }
    var timeline = new vis.Timeline(holder, new vis.DataSet(data.items), new vis.DataSet(data.groups), options);
    holder.setAttribute(
      'data-gaps',
      String(
        lanes.reduce(function (n, l) {
          return n + l.gaps.length;
        }, 0),
      ),
    );
    return timeline;
  }

  window.CoverageTimeline = { renderDetail: renderDetail, fmt: fmt, el: el };
})();
