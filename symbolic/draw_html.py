"""S.draw(…, "graph.html"): the SVG picture in a self-contained page that zooms and pans.

Everything is inline (the SVG, the colour legend, a few lines of script), so the page opens
from disk with no network access. Wheel: zoom about the pointer; drag: pan; double-click: reset.
"""

from __future__ import annotations

import html

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; font: 13px sans-serif; }}
#legend {{ position: fixed; top: 8px; left: 8px; background: #fffe; padding: 6px 10px;
          border: 1px solid #ccc; border-radius: 4px; z-index: 1; }}
#legend span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px;
               border: 1px solid #555; vertical-align: middle; }}
#view {{ width: 100vw; height: 100vh; overflow: hidden; cursor: grab; }}
#view > svg {{ transform-origin: 0 0; }}
</style></head><body>
<div id="legend"><b>{title}</b> {legend} — wheel: zoom, drag: pan, double-click: reset</div>
<div id="view">{svg}</div>
<script>
const view = document.getElementById("view"), svg = view.querySelector("svg");
let scale = 1, x = 0, y = 0, drag = null;
const show = () => {{ svg.style.transform = `translate(${{x}}px,${{y}}px) scale(${{scale}})`; }};
view.addEventListener("wheel", e => {{
  e.preventDefault();
  const k = Math.exp(-e.deltaY / 500);
  x = e.clientX - (e.clientX - x) * k; y = e.clientY - (e.clientY - y) * k; scale *= k; show();
}}, {{passive: false}});
view.addEventListener("mousedown", e => {{ drag = [e.clientX - x, e.clientY - y]; }});
window.addEventListener("mouseup", () => {{ drag = null; }});
window.addEventListener("mousemove", e => {{
  if (drag) {{ x = e.clientX - drag[0]; y = e.clientY - drag[1]; show(); }}
}});
view.addEventListener("dblclick", () => {{ scale = 1; x = 0; y = 0; show(); }});
</script></body></html>
"""


def render_page(svg: str, title: str, colours: dict) -> str:
    """The page showing `svg` (an SVG document's text) with a legend of `colours`."""
    start = svg.find("<svg")  # drop the XML declaration and doctype: the SVG goes inline
    legend = "".join(
        f'<span style="background:{colour}"></span>{html.escape(kind)}'
        for kind, colour in colours.items()
    )
    return PAGE.format(title=html.escape(title), legend=legend, svg=svg[start:])
