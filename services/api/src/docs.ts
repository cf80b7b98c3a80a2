/**
 * A browsable page of the OpenAPI document, self-contained (no scripts or styles from
 * elsewhere): operations by tag, their parameters, bodies and answers, schemas inline.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Umbra API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
details{border:1px solid #ddd;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}
.m{display:inline-block;width:4.2rem;font-weight:600;font-family:monospace}
.GET{color:#1a7f37}.POST{color:#0969da}.PATCH{color:#9a6700}.DELETE{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f8fa;padding:.5rem;overflow:auto}
</style>
</head>
<body>
<h1>Umbra API</h1>
<p id="about">Loading <a href="/openapi.json">/openapi.json</a>…</p>
<div id="ops"></div>
<script>
const el = (tag, attrs, ...children) => {
  const e = document.createElement(tag);
  Object.assign(e, attrs);
  for (const c of children) e.append(c);
  return e;
};
const resolve = (doc, schema) => {
  const seen = new Set();
  const walk = (s) => {
    if (Array.isArray(s)) return s.map(walk);
    if (!s || typeof s !== "object") return s;
    if (typeof s.$ref === "string") {
      const name = s.$ref.split("/").pop();
      if (seen.has(name)) return { $ref: name };
      seen.add(name);
      const out = walk(doc.components.schemas[name]);
      seen.delete(name);
      return out;
    }
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, walk(v)]));
  };
  return JSON.stringify(walk(schema), null, 2);
};
fetch("/openapi.json").then((r) => r.json()).then((doc) => {
  document.getElementById("about").textContent = doc.info.description + " Version " + doc.info.version + ".";
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method.toUpperCase(), path, op]);
    }
  const ops = document.getElementById("ops");
  for (const [tag, list] of byTag) {
    ops.append(el("h2", { textContent: tag }));
    for (const [method, path, op] of list) {
      const d = el("details", {}, el("summary", {}, el("span", { className: "m " + method, textContent: method }), el("code", { textContent: path }), " — " + op.summary));
      for (const p of op.parameters || [])
        d.append(el("p", {}, el("code", { textContent: p.name }), " (" + p.in + ") " + (p.description || "")));
      if (op.requestBody)
        for (const [type, media] of Object.entries(op.requestBody.content))
          d.append(el("p", { textContent: "Body: " + type }), el("pre", { textContent: resolve(doc, media.schema) }));
      for (const [status, res] of Object.entries(op.responses)) {
        d.append(el("p", {}, el("b", { textContent: status }), " " + res.description));
        for (const [type, media] of Object.entries(res.content || {}))
          if (status !== "default" && !type.startsWith("application/problem"))
            d.append(el("pre", { textContent: type + "\\n" + resolve(doc, media.schema) }));
      }
      ops.append(d);
    }
  }
});
</script>
</body>
</html>
`;
