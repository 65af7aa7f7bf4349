/**
 * The HTML report's style and script, inlined into the page: nothing is fetched (no fonts, no CDN), so the file
 * works offline, attached to an incident. The script only copies remedies and opens every section for print.
 */

export const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;--code:#eef1f4;
--crit:#cf222e;--warn:#bf8700;--info:#0969da;--ok:#1a7f37;--na:#8c959f;--db:#8250df;--before:#cf222e;--after:#1a7f37;
--size:#0969da;--ttl:#1a7f37;--nottl:#bc4c00;--queue:#0969da;--pool:#1a7f37;--track:#eaeef2}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--panel:#161b22;--code:#1f242c;
--crit:#ff7b72;--warn:#d29922;--info:#58a6ff;--ok:#3fb950;--na:#6e7681;--db:#bc8cff;--before:#ff7b72;--after:#3fb950;
--size:#58a6ff;--ttl:#3fb950;--nottl:#f0883e;--queue:#58a6ff;--pool:#3fb950;--track:#21262d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
pre{background:var(--code);padding:8px 10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-word;margin:4px 0}
.muted{color:var(--muted)}.small{font-size:12px}
.verdict{border-radius:8px;padding:12px 16px;margin:12px 0;border:2px solid var(--line);background:var(--panel)}
.verdict.failed{border-color:var(--crit)}.verdict.incomplete{border-color:var(--warn)}.verdict.passed{border-color:var(--ok)}
.verdict strong{font-size:16px}
.path{border-radius:8px;padding:10px 16px;margin:12px 0;border:1px solid var(--line);border-left:6px solid var(--accent, var(--line));background:var(--panel)}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;vertical-align:1px}
.badge.critical{background:var(--crit)}.badge.warning{background:var(--warn)}.badge.info{background:var(--info)}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}
.diag{border:1px solid var(--line);border-left:4px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0;background:var(--panel)}
.diag.critical{border-left-color:var(--crit)}.diag.warning{border-left-color:var(--warn)}.diag.info{border-left-color:var(--info)}
.share{font-weight:600}
.group{border:1px solid var(--line);border-radius:8px;margin:10px 0;padding:4px 12px 8px}
.finding{padding:6px 0;border-top:1px dashed var(--line)}.finding:first-child{border-top:0}
.finding.depth-1{margin-left:24px}.finding.depth-2{margin-left:48px}.finding.depth-3{margin-left:72px}
.finding .head{font-weight:600}.num{color:var(--muted);font-weight:400;margin-right:4px}
.explained{color:var(--muted);font-weight:400}
.remedy{margin:6px 0 6px 0}.code-wrap{position:relative}
.copy{position:absolute;top:4px;right:4px;font:12px system-ui,sans-serif;padding:2px 8px;border:1px solid var(--line);border-radius:4px;background:var(--bg);color:var(--fg);cursor:pointer}
.copy.done{border-color:var(--ok);color:var(--ok)}
details>summary{cursor:pointer;color:var(--muted)}
.evidence td:first-child{white-space:nowrap;width:1%}
.charts{display:grid;grid-template-columns:1fr;gap:16px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--bg);break-inside:avoid}
figcaption{font-weight:600;margin-bottom:4px}
.chart-note{color:var(--muted);font-style:italic;margin:2px 0}
.chart-svg{display:block;max-width:100%;height:auto}
.chart-svg text{fill:var(--fg);font-size:12px;font-family:system-ui,sans-serif}
.chart-svg text.value,.chart-svg text.ref-label{fill:var(--muted)}
.chart-svg .track{fill:var(--track)}.chart-svg .empty{fill:none;stroke:var(--line);stroke-dasharray:3 3}
.chart-svg .reference{stroke:var(--crit);stroke-dasharray:4 3;stroke-width:1.5}
.m-db{fill:var(--db)}.m-before{fill:var(--before)}.m-after{fill:var(--after)}.m-size{fill:var(--size)}
.m-ttl{fill:var(--ttl)}.m-nottl{fill:var(--nottl)}.m-queue{fill:var(--queue)}.m-pool{fill:var(--pool)}
.sev-critical{fill:var(--crit)}.sev-warning{fill:var(--warn)}.sev-info{fill:var(--info)}
.st-critical{fill:var(--crit)}.st-warning{fill:var(--warn)}.st-info{fill:var(--info)}.st-ok{fill:var(--ok)}.st-not-evaluated{fill:var(--na)}
.heat .cell-text{fill:#fff;font-weight:600}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:0}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--panel:#fff;--code:#f3f3f3;--track:#eee}
body{font-size:11pt}main{max-width:none;padding:0}.copy{display:none}
.group,.diag,figure{break-inside:avoid}h2{break-after:avoid}
a{color:inherit;text-decoration:none}}
`

/** Copy buttons (the Clipboard API where the page may use it, else a selection and execCommand), and print. */
export const SCRIPT = `
(function(){
  'use strict';
  function copyText(text, done){
    try {
      if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, function(){ fallback(text, done) }); return }
    } catch (e) {}
    fallback(text, done);
  }
  function fallback(text, done){
    var area = document.createElement('textarea');
    area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); done() } catch (e) {}
    document.body.removeChild(area);
  }
  document.addEventListener('click', function(event){
    var button = event.target.closest && event.target.closest('button.copy');
    if (!button) return;
    var code = button.parentNode.querySelector('code');
    if (!code) return;
    copyText(code.textContent, function(){ button.textContent = 'copied'; button.classList.add('done');
      setTimeout(function(){ button.textContent = 'copy'; button.classList.remove('done') }, 1500) });
  });
  window.addEventListener('beforeprint', function(){
    document.querySelectorAll('details').forEach(function(d){ d.setAttribute('open', '') });
  });
  var data = document.getElementById('chokepoint-report');
  if (data) { try { window.chokepointReport = JSON.parse(data.textContent) } catch (e) { console.warn('chokepoint: the embedded report is not valid JSON') } }
})();
`
