// The status page's script (src/http/status_page.h). Inlined into the page
// and pinned by the Content-Security-Policy's hash, both computed from this
// file as embedded at build time (leading indentation and blank lines
// dropped: no multi-line strings here).
//
// Polls status.json beside the page every data-refresh-seconds of
// #refresh and puts its `html` into <main id="live"> (the agent renders
// it: the page with scripts off is the same markup). The URL is built from
// location.origin, which never carries the user:password@ a URL may have
// (fetch refuses those), and the page's own path (it may sit behind a
// proxy's prefix). When the agent stops answering, the page says so and
// keeps the last data on screen.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var note = document.getElementById('refresh');
  var seconds = Number(note.getAttribute('data-refresh-seconds')) || 2;
  var url = location.origin + location.pathname.replace(/[^/]*$/, '') +
      'status.json' + location.search;
  function tick() {
    fetch(url, {cache: 'no-store', credentials: 'same-origin'})
        .then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(function (j) {
          live.innerHTML = j.html;
          note.textContent = 'live: updated ' + j.generatedAt;
          note.className = '';
        })
        .catch(function (e) {
          note.textContent = 'NOT UPDATING: the agent does not answer (' +
              e.message + '); the data below is older';
          note.className = 'banner critical';
        })
        .finally(function () {
          setTimeout(tick, seconds * 1000);
        });
  }
  note.textContent = 'live: updates every ' + seconds + ' s';
  setTimeout(tick, seconds * 1000);
})();
