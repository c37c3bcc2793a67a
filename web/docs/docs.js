// Renders /api/openapi.yaml with the vendored Redoc (see VENDORED.md). Kept out of index.html so the
// page's Content-Security-Policy can forbid inline scripts.
(function () {
  'use strict';

  var SPEC_URL = '/api/openapi.yaml';
  // System fonts only: nothing is fetched from outside. CJK faces first so Chinese text renders with a
  // proper font on every platform; Latin text falls through to the platform's UI font.
  var SANS = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", ' +
             '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", Roboto, sans-serif';
  var MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "Noto Sans Mono CJK SC", monospace';

  var root = document.getElementById('redoc');

  function fail(message) {
    root.innerHTML = '';
    var box = document.createElement('div');
    box.className = 'docs-fallback';
    var p1 = document.createElement('p');
    p1.textContent = 'API 文档加载失败。Failed to render the API documentation: ' + message;
    var p2 = document.createElement('p');
    var a = document.createElement('a');
    a.href = SPEC_URL;
    a.textContent = SPEC_URL;
    p2.appendChild(document.createTextNode('OpenAPI document: '));
    p2.appendChild(a);
    box.appendChild(p1);
    box.appendChild(p2);
    root.appendChild(box);
  }

  if (typeof window.Redoc === 'undefined' || typeof window.Redoc.init !== 'function') {
    fail('/docs/redoc.standalone.js did not load.');
    return;
  }

  window.Redoc.init(SPEC_URL, {
    // Operations first by tag group (x-tagGroups), required fields first, samples expanded a little.
    requiredPropsFirst: true,
    expandResponses: '200,201',
    jsonSampleExpandLevel: 3,
    pathInMiddlePanel: true,
    hideHostname: true,
    sortEnumValuesAlphabetically: false,
    showExtensions: ['x-status'],
    theme: {
      colors: { primary: { main: '#1f5fa8' } },
      typography: {
        fontSize: '15px',
        lineHeight: '1.6em',
        fontFamily: SANS,
        headings: { fontFamily: SANS, fontWeight: '600' },
        code: { fontFamily: MONO }
      },
      sidebar: { width: '280px' },
      rightPanel: { width: '40%' }
    }
  }, root, function (error) {
    if (error) {
      fail(String(error && error.message ? error.message : error));
    }
  });
})();
