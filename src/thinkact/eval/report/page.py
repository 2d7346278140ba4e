"""The report page's style sheet and script, inlined into `report.html` so that it needs no network.

The script only filters and expands the sample list (by split, view, text, and whether the models differ); the
page reads fine without it. When it has run it sets `data-ready` on the body, which the browser test checks.
"""

STYLE = """
:root { --fg: #1d2430; --muted: #5b6575; --line: #d8dde6; --bg: #f6f7f9; --card: #fff;
        --good: #1d7a46; --bad: #b3261e; --accent: #2f5fb3; --think: #6b4fa0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
       margin: 0; }
header { background: #1f2a3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d2e3; }
nav { position: sticky; top: 0; background: var(--card); border-bottom: 1px solid var(--line); padding: 8px 28px;
      z-index: 2; }
nav a { margin-right: 18px; color: var(--accent); text-decoration: none; font-weight: 600; }
main { padding: 8px 28px 40px; max-width: 1500px; }
section { margin-top: 26px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.note { color: var(--muted); max-width: 980px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: var(--card); margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #eef1f6; font-weight: 600; }
td.label, th.label { text-align: left; }
td .ci { color: var(--muted); font-size: 12px; }
td .n { color: var(--muted); font-size: 11px; }
td.up { color: var(--good); } td.down { color: var(--bad); }
td.noise { color: var(--muted); } td.changed { color: var(--accent); }
.mark { font-weight: 700; }
.lead { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.lead > div { flex: 1 1 520px; min-width: 0; }
.lead h2 { margin-top: 0; }
table.claims td.label { white-space: normal; max-width: 520px; }
table.claims td.ok, table.claims td.fail { font-weight: 700; text-align: center; }
.curve img { max-width: 100%; height: auto; display: block; background: var(--card); border: 1px solid var(--line); }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plots figure { margin: 0; background: var(--card); border: 1px solid var(--line); padding: 8px; }
.plots img { max-width: 100%; height: auto; display: block; }
.plots figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.filters { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; background: var(--card);
           border: 1px solid var(--line); padding: 8px 12px; }
.filters input[type=search] { width: 260px; padding: 3px 6px; }
.sample { background: var(--card); border: 1px solid var(--line); margin: 8px 0; border-radius: 4px; }
.sample > summary { cursor: pointer; padding: 8px 12px; list-style: none; display: flex; gap: 12px;
                    align-items: baseline; flex-wrap: wrap; }
.sample > summary::before { content: "▸"; color: var(--muted); }
.sample[open] > summary::before { content: "▾"; }
.sample .sid { font-family: ui-monospace, monospace; font-weight: 600; }
.tag { font-size: 11px; background: #eef1f6; border-radius: 3px; padding: 1px 6px; color: var(--muted); }
.score { font-size: 12px; font-family: ui-monospace, monospace; }
.body { padding: 0 12px 12px; }
.history { border-left: 3px solid var(--line); padding-left: 10px; margin: 6px 0 12px; }
.msg { margin: 4px 0; }
.role { display: inline-block; min-width: 74px; font-size: 11px; text-transform: uppercase; color: var(--muted);
        font-weight: 700; vertical-align: top; }
.msg .text { display: inline-block; max-width: calc(100% - 90px); white-space: pre-wrap; }
.msg.tool .text, .call, pre { font-family: ui-monospace, monospace; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 10px; }
.action { border: 1px solid var(--line); border-radius: 4px; padding: 8px; background: #fbfcfd; min-width: 0; }
.action.reference { background: #f3f8f1; }
.action h4 { margin: 0 0 6px; font-size: 13px; display: flex; justify-content: space-between; }
.think { color: var(--think); font-style: italic; white-space: pre-wrap; margin: 4px 0; }
.think::before { content: "thinking: "; font-style: normal; font-weight: 600; }
.call { background: #eef3fb; border-radius: 3px; padding: 3px 6px; margin: 3px 0; white-space: pre-wrap;
        word-break: break-word; }
.answer { white-space: pre-wrap; margin: 4px 0; }
.problems { color: var(--bad); font-size: 12px; }
.components { font-size: 12px; margin-top: 6px; }
.components td, .components th { padding: 1px 6px; }
.ok { color: var(--good); } .fail { color: var(--bad); }
.hidden { display: none; }
"""

SCRIPT = """
(function () {
  var samples = Array.prototype.slice.call(document.querySelectorAll(".sample"));
  var split = document.getElementById("filter-split");
  var view = document.getElementById("filter-view");
  var text = document.getElementById("filter-text");
  var differ = document.getElementById("filter-differ");
  var count = document.getElementById("filter-count");
  function apply() {
    var needle = text ? text.value.toLowerCase() : "";
    var shown = 0;
    samples.forEach(function (el) {
      var ok = (!split || !split.value || el.dataset.split === split.value) &&
               (!view || !view.value || el.dataset.view === view.value) &&
               (!differ || !differ.checked || el.dataset.differs === "1") &&
               (!needle || el.textContent.toLowerCase().indexOf(needle) >= 0);
      el.classList.toggle("hidden", !ok);
      if (ok) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + samples.length + " shown"; }
  }
  [split, view, text, differ].forEach(function (el) {
    if (el) { el.addEventListener("input", apply); el.addEventListener("change", apply); }
  });
  function expand(open) {
    samples.forEach(function (el) { if (!el.classList.contains("hidden")) { el.open = open; } });
  }
  var more = document.getElementById("expand-all");
  var less = document.getElementById("collapse-all");
  if (more) { more.addEventListener("click", function () { expand(true); }); }
  if (less) { less.addEventListener("click", function () { expand(false); }); }
  apply();
  document.body.setAttribute("data-ready", "1");
})();
"""
