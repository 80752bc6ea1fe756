#!/usr/bin/env bash
# Usage: check_report.sh NABLA OUT_DIR [SCREENSHOT.png]
# Trains briefly with --out and checks the report it writes: the files beside it, `nabla report`
# writing it again, then the page rendered in headless Chromium: no console message (the page has
# no script, so any message is a fault), nothing loaded from outside the page, and every section
# and plot present with its data (checked on the DOM Chromium built). With SCREENSHOT, also saves
# a picture of the page (docs/images/report.png is one). Exits 77 (CTest's skip) after the checks
# that need no browser when chromium is not installed.
set -eu
nabla=$1
out=$2
screenshot=${3:-}
rm -rf "$out"
mkdir -p "$out"
"$nabla" train --limit 200 --epochs 2 --validation-split 0.2 --out "$out/run" --threads 1 \
  --verbose 0
for file in report.html norms.csv metrics.csv model.safetensors; do
  [[ -s "$out/run/$file" ]] || { echo "FAIL: $out/run/$file is missing or empty" >&2; exit 1; }
done
# Two epochs of the MLP's 4 layers' parameters (2 Dense layers, weight and bias each).
rows=$(($(grep -c '' "$out/run/norms.csv") - 1))
[[ $rows -eq 8 ]] || { echo "FAIL: norms.csv holds $rows rows, expected 8" >&2; exit 1; }
cp "$out/run/report.html" "$out/first.html"
written=$("$nabla" report "$out/run" --threads 1)
[[ $written == "Wrote $out/run/report.html" ]] || { echo "FAIL: nabla report said '$written'" >&2; exit 1; }
# The same run gives the same page, whether written at the end of training or from the folder
# (apart from the command line, which `nabla report` cannot know, and what only the run knew).
diff <(grep -v -e '<td>command</td>' -e '<td>seed</td>' -e '<td>samples for training and validation</td>' "$out/first.html") \
  <(grep -v '<td>command</td>' "$out/run/report.html") >/dev/null ||
  { echo "FAIL: nabla report wrote a different page than nabla train" >&2;
    diff <(grep -v -e '<td>command</td>' -e '<td>seed</td>' -e '<td>samples for training and validation</td>' "$out/first.html") \
      <(grep -v '<td>command</td>' "$out/run/report.html") | head -20 >&2; exit 1; }

if ! command -v chromium >/dev/null; then
  echo "SKIP: chromium is not installed (apt-get install chromium, or scripts/install-deps.sh);" \
    "report.html was written but not rendered"
  exit 77
fi
browser=(chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars
  --user-data-dir="$out/profile" --enable-logging=stderr --v=0)
timeout 120 "${browser[@]}" --dump-dom "file://$(realpath "$out/run/report.html")" \
  >"$out/dom.html" 2>"$out/chromium.log" ||
  { echo "FAIL: chromium could not render the page" >&2; tail -20 "$out/chromium.log" >&2; exit 1; }
if grep -E ':CONSOLE[:(]|Uncaught' "$out/chromium.log" >&2; then
  echo "FAIL: the page logged the console messages above" >&2
  exit 1
fi
python3 - "$out/dom.html" <<'PY'
import sys
from html.parser import HTMLParser

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.svgs, self.links = [], [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "svg":
            self.svgs.append({"class": a.get("class"), "title": a.get("aria-label"),
                              "polylines": [], "cells": [], "images": 0})
        elif self.svgs and tag == "polyline":
            self.svgs[-1]["polylines"].append(a.get("points", "").split())
        elif self.svgs and tag == "rect" and a.get("class") == "cell":
            self.svgs[-1]["cells"].append(int(a["data-count"]))
        elif self.svgs and tag == "image":
            self.svgs[-1]["images"] += a.get("href", "").startswith("data:image/png;base64,")
        for key in ("src", "href"):
            if key in a and not a[key].startswith(("data:", "#")):
                self.links.append(a[key])

page = Page()
page.feed(open(sys.argv[1], encoding="utf-8").read())
fail = []
for section in ["settings", "model", "results", "curves", "norms", "confusion", "misclassified"]:
    if section not in page.sections:
        fail.append(f"no section '{section}'")
plots = [s for s in page.svgs if s["class"] == "plot"]
titles = [p["title"] for p in plots]
for title in ["loss", "accuracy", "learning rate (constant: no schedule)",
              "weight norm per layer", "gradient norm per layer (mean over batches)"]:
    if title not in titles:
        fail.append(f"no plot '{title}' (plots: {titles})")
for plot in plots:
    # Two epochs: every curve has two points, each a pair of finite coordinates.
    if not plot["polylines"] or any(len(p) != 2 for p in plot["polylines"]):
        fail.append(f"plot '{plot['title']}' has curves {plot['polylines']}, expected 2 points each")
    for line in plot["polylines"]:
        for point in line:
            x, y = map(float, point.split(","))
            if not (0 <= x <= 2000 and 0 <= y <= 2000):
                fail.append(f"plot '{plot['title']}': point {point} lies outside the picture")
curves = {p["title"]: len(p["polylines"]) for p in plots}
if curves.get("loss") != 2 or curves.get("accuracy") != 2:
    fail.append(f"loss and accuracy need a training and a validation curve, got {curves}")
if curves.get("weight norm per layer") != 2:
    fail.append(f"the MLP's two Dense layers need a weight-norm curve each, got {curves}")
heatmaps = [s for s in page.svgs if s["class"] == "heatmap"]
if len(heatmaps) != 1 or len(heatmaps[0]["cells"]) != 100 or sum(heatmaps[0]["cells"]) != 10000:
    fail.append("the confusion matrix needs 10x10 cells counting the 10000 test images")
grids = [s for s in page.svgs if s["class"] == "image-grid"]
if len(grids) != 1 or grids[0]["images"] != 2:
    fail.append("the misclassified images need one grid of two rows of PNG data")
if page.links:
    fail.append(f"the page refers to outside resources: {page.links[:5]}")
for line in fail:
    print("FAIL:", line, file=sys.stderr)
if fail:
    sys.exit(1)
print(f"ok: {len(plots)} plots, a {len(heatmaps[0]['cells'])}-cell confusion matrix, "
      f"{grids[0]['images']} image rows; no console message, nothing loaded from outside")
PY
if [[ -n $screenshot ]]; then
  timeout 120 "${browser[@]}" --window-size=1200,3000 --screenshot="$(realpath -m "$screenshot")" \
    "file://$(realpath "$out/run/report.html")" 2>>"$out/chromium.log"
  [[ -s $screenshot ]] || { echo "FAIL: no screenshot at $screenshot" >&2; exit 1; }
fi
