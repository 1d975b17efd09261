/**
 * The report page's own script (plain ES2017, no modules, no network): renders every chart with the
 * inlined Vega runtime, drives the token view (prompt, vector, layer and mode selectors colour the
 * response tokens and update the trajectory chart) and sorts tables on header clicks. Kept as a string so
 * the report is one self-contained file; it reads its data from the `traitlens-data` JSON block.
 */
export const reportClientScript = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('traitlens-data').textContent);
  var views = {};

  function renderCharts() {
    var nodes = Array.prototype.slice.call(document.querySelectorAll('[data-chart]'));
    return Promise.all(nodes.map(function (node) {
      var id = node.getAttribute('data-chart');
      try {
        var view = new vega.View(vega.parse(data.charts[id]), { renderer: 'svg', container: node, hover: true });
        views[id] = view;
        return view.runAsync().then(function () { node.setAttribute('data-rendered', 'true'); });
      } catch (error) {
        node.setAttribute('data-rendered', 'error');
        node.textContent = 'This chart could not be drawn: ' + error.message;
        console.error(error);
        return Promise.resolve();
      }
    }));
  }

  function colour(value, extent) {
    if (value === null || !isFinite(value) || !(extent > 0)) return 'transparent';
    var t = Math.max(-1, Math.min(1, value / extent));
    var r, g, b;
    if (t >= 0) { r = 255; g = Math.round(255 - 165 * t); b = Math.round(255 - 190 * t); }
    else { r = Math.round(255 + 200 * t); g = Math.round(255 + 110 * t); b = 255; }
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }

  function setupTokenView() {
    var view = data.tokenView;
    var root = document.getElementById('token-view');
    if (!view || !root) return;
    var promptSelect = document.getElementById('tv-prompt');
    var vectorSelect = document.getElementById('tv-vector');
    var layerSelect = document.getElementById('tv-layer');
    var modeSelect = document.getElementById('tv-mode');
    var tokensBox = document.getElementById('tv-tokens');
    var legend = document.getElementById('tv-legend');
    var textBox = document.getElementById('tv-prompt-text');
    function option(select, value, text) {
      var element = document.createElement('option');
      element.value = String(value);
      element.textContent = text;
      select.appendChild(element);
    }
    view.prompts.forEach(function (prompt, index) {
      var tags = [];
      if (prompt.label !== null) tags.push('label ' + prompt.label);
      if (prompt.group !== null) tags.push('bias ' + prompt.group);
      if (prompt.exploitSpans.length > 0) tags.push(prompt.exploitSpans.length + ' exploit span' + (prompt.exploitSpans.length > 1 ? 's' : ''));
      option(promptSelect, index, prompt.promptId + (tags.length ? ' (' + tags.join(', ') + ')' : ''));
    });
    view.vectorIds.forEach(function (id, index) { option(vectorSelect, index, id); });
    view.layers.forEach(function (layer, index) { option(layerSelect, index, 'layer ' + layer); });
    var hasB = view.prompts.some(function (prompt) { return prompt.b !== null; });
    if (hasB) {
      option(modeSelect, 'delta', data.variants.b + ' - ' + data.variants.a);
      option(modeSelect, 'b', data.variants.b);
    }
    option(modeSelect, 'a', data.variants.a);
    vectorSelect.value = String(Math.max(0, view.vectorIds.indexOf(data.focus.vectorId)));
    layerSelect.value = String(Math.max(0, view.layers.indexOf(data.focus.layer)));

    function series(prompt, variant, l, k) {
      var rows = variant === 'b' ? prompt.b : prompt.a;
      return rows && rows[l] && rows[l][k] ? rows[l][k] : null;
    }
    function valuesOf(prompt, mode, l, k) {
      var a = series(prompt, 'a', l, k);
      if (mode === 'a') return a;
      var b = series(prompt, 'b', l, k);
      if (mode === 'b') return b;
      if (!a || !b) return null;
      return a.map(function (value, i) { return b[i] - value; });
    }
    function update() {
      var p = Number(promptSelect.value), k = Number(vectorSelect.value), l = Number(layerSelect.value), mode = modeSelect.value;
      var prompt = view.prompts[p];
      // Absolute projections are shown relative to variant A's mean over the shown prompts (so colour means
      // "higher or lower than usual"); deltas relative to zero. One scale for all shown prompts.
      var centre = 0;
      if (mode !== 'delta') {
        var sum = 0, count = 0;
        view.prompts.forEach(function (other) { (series(other, 'a', l, k) || []).forEach(function (v) { sum += v; count++; }); });
        centre = count ? sum / count : 0;
      }
      var extent = 0;
      view.prompts.forEach(function (other) {
        (valuesOf(other, mode, l, k) || []).forEach(function (v) { if (isFinite(v)) extent = Math.max(extent, Math.abs(v - centre)); });
      });
      var values = valuesOf(prompt, mode, l, k) || [];
      var inSpan = prompt.tokens.map(function (_, t) {
        return prompt.exploitSpans.some(function (span) { return t >= span[0] && t < span[1]; });
      });
      tokensBox.textContent = '';
      prompt.tokens.forEach(function (token, t) {
        var span = document.createElement('span');
        span.className = 'token' + (inSpan[t] ? ' exploit' : '');
        span.textContent = token;
        var value = values[t];
        span.style.backgroundColor = colour(value === undefined ? null : value - centre, extent);
        span.title = '#' + t + '  ' + JSON.stringify(token) + '  ' + (value === undefined ? 'n/a' : value.toFixed(4));
        tokensBox.appendChild(span);
      });
      textBox.textContent = prompt.promptText ? 'Prompt: ' + prompt.promptText : '';
      legend.textContent = (mode === 'delta' ? 'colour: ' + data.variants.b + ' - ' + data.variants.a : 'colour: value - mean of ' + data.variants.a + ' (' + centre.toFixed(4) + ')') +
        '; full red/blue = +/-' + extent.toFixed(4) + ' (' + view.measure + ', ' + view.vectorIds[k] + ', layer ' + view.layers[l] + '); underlined: exploit spans';
      root.setAttribute('data-state', [prompt.promptId, view.vectorIds[k], view.layers[l], mode].join('|'));
      var trajectory = views.trajectory;
      if (trajectory) {
        var points = [];
        [['a', data.variants.a], ['b', data.variants.b]].forEach(function (pair) {
          (series(prompt, pair[0], l, k) || []).forEach(function (value, position) {
            points.push({ position: position, token: prompt.tokens[position], variant: pair[1], value: value });
          });
        });
        var spans = prompt.exploitSpans.map(function (span) { return { start: span[0] - 0.5, end: span[1] - 0.5 }; });
        trajectory.change('points', vega.changeset().remove(function () { return true; }).insert(points));
        trajectory.change('spans', vega.changeset().remove(function () { return true; }).insert(spans));
        trajectory.signal('chartTitle', prompt.promptId + ': ' + view.vectorIds[k] + ' at layer ' + view.layers[l]);
        trajectory.runAsync().then(function () {
          root.setAttribute('data-trajectory', [prompt.promptId, view.vectorIds[k], view.layers[l]].join('|'));
        });
      }
    }
    [promptSelect, vectorSelect, layerSelect, modeSelect].forEach(function (select) { select.addEventListener('change', update); });
    update();
  }

  function setupTables() {
    Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
      Array.prototype.forEach.call(table.querySelectorAll('th'), function (header, column) {
        header.addEventListener('click', function () {
          var body = table.tBodies[0];
          var ascending = header.getAttribute('data-order') !== 'ascending';
          Array.prototype.forEach.call(table.querySelectorAll('th'), function (other) { other.removeAttribute('data-order'); });
          header.setAttribute('data-order', ascending ? 'ascending' : 'descending');
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (x, y) {
            var a = x.cells[column].getAttribute('data-value'), b = y.cells[column].getAttribute('data-value');
            var na = Number(a), nb = Number(b);
            var order = a !== null && b !== null && a !== '' && b !== '' && !isNaN(na) && !isNaN(nb) ? na - nb : String(x.cells[column].textContent).localeCompare(String(y.cells[column].textContent));
            return ascending ? order : -order;
          });
          rows.forEach(function (row) { body.appendChild(row); });
        });
      });
    });
  }

  setupTables();
  renderCharts().then(function () {
    setupTokenView();
    document.body.setAttribute('data-ready', 'true');
  }, function (error) {
    console.error(error);
    document.body.setAttribute('data-ready', 'error');
  });
})();
`;
