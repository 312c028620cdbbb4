// LatencyChart: bars of the last N ping round-trip times in an inline SVG.

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// niceMax(v) rounds a maximum up to 1, 2 or 5 times a power of ten so the
// scale does not jump with every new sample.
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

export class LatencyChart {
  // svg: an <svg> element to draw into; capacity: how many samples to keep.
  constructor(svg, capacity = 50) {
    this.svg = svg;
    this.capacity = capacity;
    this.samples = [];
    this.width = 300;
    this.height = 90;
    svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    this.render();
  }

  add(ms) {
    this.samples.push(ms);
    if (this.samples.length > this.capacity) this.samples.shift();
    this.render();
  }

  render() {
    const { svg, samples, width, height, capacity } = this;
    svg.replaceChildren();
    svg.dataset.count = String(samples.length);
    const top = 14;
    const plot = height - top - 2;
    const max = niceMax(Math.max(0, ...samples));
    // Guide lines at the full scale and half of it.
    for (const f of [0, 0.5]) {
      const y = top + plot * f;
      svg.append(el("line", { x1: 0, x2: width, y1: y, y2: y, class: "grid" }));
    }
    svg.append(el("line", { x1: 0, x2: width, y1: height - 1, y2: height - 1, class: "axis" }));
    const label = el("text", { x: 2, y: 10, class: "label" });
    label.textContent = samples.length ? `max ${formatMs(max)}` : "no pings yet";
    svg.append(label);
    const slot = width / capacity;
    samples.forEach((ms, i) => {
      const h = Math.max(1, (ms / max) * plot);
      const x = width - (samples.length - i) * slot;
      const bar = el("rect", {
        x: x + slot * 0.15,
        y: height - 1 - h,
        width: slot * 0.7,
        height: h,
        class: i === samples.length - 1 ? "bar last" : "bar",
      });
      const title = el("title", {});
      title.textContent = formatMs(ms);
      bar.append(title);
      svg.append(bar);
    });
    const avg = samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : null;
    svg.setAttribute(
      "aria-label",
      samples.length
        ? `Latency of the last ${samples.length} pings: latest ${formatMs(samples.at(-1))}, ` +
            `average ${formatMs(avg)}, highest ${formatMs(Math.max(...samples))}`
        : "Latency chart: no pings yet",
    );
  }
}
