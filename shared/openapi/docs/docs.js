// The CryptoVault API docs: reads openapi.json from this page's own origin and renders every
// operation, its parameters, request and response schemas and examples. Plain DOM, no framework,
// nothing loaded from elsewhere. Text from the document is always set as text, never as HTML.
(function () {
  "use strict";

  var METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  var MAX_DEPTH = 12;
  var spec = null;

  // el builds an element: el("a", {href: "#x", class: "y"}, "text", childNode, [more, children]).
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] === undefined || attrs[k] === null || attrs[k] === false) return;
        if (k === "class") node.className = attrs[k];
        else node.setAttribute(k, attrs[k] === true ? "" : String(attrs[k]));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function anchor(kind, name) { return kind + "-" + String(name).replace(/[^A-Za-z0-9_.-]/g, "_"); }

  // ---- a little Markdown: paragraphs, "- " lists, `code`, **bold**.
  function inline(text) {
    var out = [];
    var re = /(`[^`]+`|\*\*[^*]+\*\*)/g;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) out.push(text.slice(last, m.index));
      var tok = m[0];
      out.push(tok.charAt(0) === "`" ? el("code", null, tok.slice(1, -1)) : el("strong", null, tok.slice(2, -2)));
      last = m.index + tok.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function markdown(text) {
    var box = el("div", { class: "description" });
    if (!text) return box;
    String(text).split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n");
      if (/^\s*- /.test(lines[0])) {
        var ul = el("ul"), item = null;
        lines.forEach(function (line) {
          if (/^\s*- /.test(line)) {
            item = line.replace(/^\s*- /, "");
            ul.appendChild(el("li", null, inline(item)));
          } else if (ul.lastChild) {
            ul.lastChild.appendChild(document.createTextNode(" "));
            append(ul.lastChild, inline(line.trim()));
          }
        });
        box.appendChild(ul);
      } else {
        box.appendChild(el("p", null, inline(lines.map(function (l) { return l.trim(); }).join(" "))));
      }
    });
    return box;
  }

  // ---- references
  function resolve(ref) {
    if (typeof ref !== "string" || ref.indexOf("#/") !== 0) return null;
    var node = spec;
    var parts = ref.slice(2).split("/");
    for (var i = 0; i < parts.length; i++) {
      var key = parts[i].replace(/~1/g, "/").replace(/~0/g, "~");
      if (node === null || typeof node !== "object" || !(key in node)) return null;
      node = node[key];
    }
    return node;
  }

  function refName(ref) { return ref.split("/").pop(); }

  // deref follows $ref chains of parameters, responses, headers and request bodies.
  function deref(obj) {
    var guard = 0;
    while (obj && obj.$ref && guard++ < 20) obj = resolve(obj.$ref) || {};
    return obj || {};
  }

  // ---- schemas
  function typeText(s) {
    var t = s.type;
    if (Array.isArray(t)) return t.join(" | ");
    if (t) return t;
    if ("const" in s) return typeof s["const"];
    if (s["enum"]) return "enum";
    return "";
  }

  function constraints(s) {
    var c = [];
    if (s.format) c.push("format " + s.format);
    if ("const" in s) c.push("= " + JSON.stringify(s["const"]));
    if (s["enum"]) c.push("one of " + s["enum"].map(function (v) { return JSON.stringify(v); }).join(", "));
    if (s.minLength !== undefined) c.push("min length " + s.minLength);
    if (s.maxLength !== undefined) c.push("max length " + s.maxLength);
    if (s.pattern !== undefined) c.push("pattern " + s.pattern);
    if (s.minimum !== undefined) c.push("≥ " + s.minimum);
    if (s.exclusiveMinimum !== undefined) c.push("> " + s.exclusiveMinimum);
    if (s.maximum !== undefined) c.push("≤ " + s.maximum);
    if (s.exclusiveMaximum !== undefined) c.push("< " + s.exclusiveMaximum);
    if (s.multipleOf !== undefined) c.push("multiple of " + s.multipleOf);
    if (s.minItems !== undefined) c.push("min items " + s.minItems);
    if (s.maxItems !== undefined) c.push("max items " + s.maxItems);
    if (s.uniqueItems) c.push("unique items");
    if (s["default"] !== undefined) c.push("default " + JSON.stringify(s["default"]));
    return c;
  }

  // schemaNode renders a schema as a small tree. Named schemas ($ref) link to their definition
  // and unfold in place up to MAX_DEPTH, never into themselves.
  function schemaNode(s, depth, seen) {
    depth = depth || 0;
    seen = seen || [];
    var box = el("div", { class: "schema" });
    if (s === true || s === undefined) { box.appendChild(el("span", { class: "label" }, "any value")); return box; }
    if (s === false) { box.appendChild(el("span", { class: "label" }, "nothing")); return box; }
    if (depth > MAX_DEPTH) { box.appendChild(el("span", { class: "label" }, "…")); return box; }

    var line = el("div");
    box.appendChild(line);
    if (s.$ref) {
      var name = refName(s.$ref);
      line.appendChild(el("a", { href: "#" + anchor("schema", name), class: "type" }, name));
      var extra = constraints(s);
      if (extra.length) line.appendChild(el("span", { class: "constraint" }, " (" + extra.join("; ") + ")"));
      if (s.description) box.appendChild(markdown(s.description));
      var target = resolve(s.$ref);
      if (target && seen.indexOf(s.$ref) < 0) {
        var d = el("details", depth < 2 ? { open: true } : null, el("summary", { class: "label" }, name));
        d.appendChild(schemaNode(target, depth + 1, seen.concat([s.$ref])));
        box.appendChild(d);
      }
      return box;
    }
    var t = typeText(s);
    if (t) line.appendChild(el("span", { class: "type" }, t));
    var c = constraints(s);
    if (c.length) line.appendChild(el("span", { class: "constraint" }, (t ? " — " : "") + c.join("; ")));
    if (s.description) box.appendChild(markdown(s.description));

    if (s.properties) {
      var req = s.required || [];
      var ul = el("ul");
      Object.keys(s.properties).forEach(function (p) {
        ul.appendChild(el("li", null,
          el("span", { class: "prop mono" }, p),
          req.indexOf(p) >= 0 ? el("span", { class: "required" }, "required") : null,
          schemaNode(s.properties[p], depth + 1, seen)));
      });
      box.appendChild(ul);
    } else if (s.required && s.required.length) {
      box.appendChild(el("div", { class: "constraint" }, "requires " + s.required.join(", ")));
    }
    if (s.additionalProperties === false) {
      box.appendChild(el("div", { class: "constraint" }, "no other properties"));
    } else if (s.additionalProperties && typeof s.additionalProperties === "object") {
      box.appendChild(el("div", null, el("span", { class: "label" }, "other properties: "),
        schemaNode(s.additionalProperties, depth + 1, seen)));
    }
    if (s.items) {
      box.appendChild(el("div", null, el("span", { class: "label" }, "items: "), schemaNode(s.items, depth + 1, seen)));
    }
    [["allOf", "all of"], ["anyOf", "any of"], ["oneOf", "one of"]].forEach(function (k) {
      if (!s[k[0]]) return;
      var list = el("ul");
      s[k[0]].forEach(function (sub) { list.appendChild(el("li", null, schemaNode(sub, depth + 1, seen))); });
      box.appendChild(el("div", null, el("span", { class: "label" }, k[1] + ":"), list));
    });
    if (s["if"]) {
      var cond = el("ul",
        null,
        el("li", null, el("span", { class: "label" }, "if "), schemaNode(s["if"], depth + 1, seen)),
        s.then ? el("li", null, el("span", { class: "label" }, "then "), schemaNode(s.then, depth + 1, seen)) : null,
        s["else"] ? el("li", null, el("span", { class: "label" }, "else "), schemaNode(s["else"], depth + 1, seen)) : null);
      box.appendChild(cond);
    }
    if (s.not) box.appendChild(el("div", null, el("span", { class: "label" }, "not: "), schemaNode(s.not, depth + 1, seen)));
    return box;
  }

  // sample builds an example value from a schema when the document gives none.
  function sample(s, depth) {
    depth = depth || 0;
    if (!s || typeof s !== "object" || depth > MAX_DEPTH) return null;
    if (s.$ref) return sample(resolve(s.$ref), depth + 1);
    if (s.example !== undefined) return s.example;
    if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
    if ("const" in s) return s["const"];
    if (s["enum"]) return s["enum"][0];
    if (s["default"] !== undefined) return s["default"];
    if (s.allOf) {
      var merged = {};
      var isObject = false;
      s.allOf.forEach(function (sub) {
        var v = sample(sub, depth + 1);
        if (v && typeof v === "object" && !Array.isArray(v)) { isObject = true; Object.keys(v).forEach(function (k) { merged[k] = v[k]; }); }
      });
      if (isObject) return merged;
    }
    if (s.anyOf) return sample(s.anyOf[0], depth + 1);
    if (s.oneOf) return sample(s.oneOf[0], depth + 1);
    var t = Array.isArray(s.type) ? s.type[0] : s.type;
    if (!t && s.properties) t = "object";
    switch (t) {
      case "object":
        var o = {};
        Object.keys(s.properties || {}).forEach(function (k) { o[k] = sample(s.properties[k], depth + 1); });
        return o;
      case "array": return [sample(s.items, depth + 1)];
      case "string":
        if (s.format === "date-time") return "2026-11-28T09:15:00Z";
        if (s.format === "email") return "alice@example.com";
        return "string";
      case "integer": return s.minimum !== undefined ? s.minimum : 0;
      case "number": return s.minimum !== undefined ? s.minimum : 0;
      case "boolean": return true;
      case "null": return null;
    }
    return null;
  }

  function examplesOf(media) {
    var out = [];
    if (media.example !== undefined) out.push({ label: "example", value: media.example });
    if (media.examples) {
      Object.keys(media.examples).forEach(function (k) {
        var ex = deref(media.examples[k]);
        out.push({ label: ex.summary || k, value: ex.value });
      });
    }
    if (!out.length && media.schema) {
      var v = sample(media.schema, 0);
      if (v !== null) out.push({ label: "example (generated from the schema)", value: v });
    }
    return out;
  }

  function exampleBlock(examples) {
    var box = el("div", { class: "examples" });
    examples.forEach(function (ex) {
      box.appendChild(el("div", { class: "example-label" }, ex.label));
      var text = typeof ex.value === "string" ? ex.value : JSON.stringify(ex.value, null, 2);
      box.appendChild(el("pre", null, el("code", null, text)));
    });
    return box;
  }

  function contentBlock(content) {
    var box = el("div");
    Object.keys(content || {}).forEach(function (ct) {
      var media = content[ct] || {};
      box.appendChild(el("div", { class: "ctype mono" }, ct));
      if (media.schema) box.appendChild(schemaNode(media.schema, 0, []));
      var exs = examplesOf(media);
      if (exs.length) box.appendChild(exampleBlock(exs));
    });
    return box;
  }

  // ---- operations
  function securityBadge(op) {
    var sec = op.security !== undefined ? op.security : (spec.security || []);
    if (!sec.length || sec.every(function (r) { return Object.keys(r).length === 0; })) {
      return el("span", { class: "badge open" }, "public");
    }
    var names = [];
    sec.forEach(function (req) {
      var keys = Object.keys(req);
      names.push(keys.length ? keys.join(" + ") : "none");
    });
    return el("span", { class: "badge lock", title: "any one of: " + names.join(", ") }, "auth: " + names.join(" | "));
  }

  function paramsTable(params) {
    var table = el("table", null, el("tr", null, el("th", null, "name"), el("th", null, "in"), el("th", null, "schema"), el("th", null, "description")));
    params.forEach(function (p) {
      p = deref(p);
      table.appendChild(el("tr", null,
        el("td", { class: "name mono" }, p.name, p.required ? el("span", { class: "required" }, "required") : null),
        el("td", null, p["in"]),
        el("td", null, p.schema ? schemaNode(p.schema, 1, []) : ""),
        el("td", null, markdown(p.description), p.example !== undefined ? el("div", { class: "constraint" }, "example: " + JSON.stringify(p.example)) : null)));
    });
    return table;
  }

  function responseBlock(status, resp) {
    var name = resp.$ref ? refName(resp.$ref) : null;
    resp = deref(resp);
    var cls = "response s" + String(status).charAt(0);
    var box = el("div", { class: cls },
      el("div", null, el("span", { class: "status" }, status), name ? el("span", { class: "badge" }, name) : null));
    box.appendChild(markdown(resp.description));
    var headers = resp.headers || {};
    var hn = Object.keys(headers);
    if (hn.length) {
      var table = el("table", null, el("tr", null, el("th", null, "header"), el("th", null, "schema"), el("th", null, "description")));
      hn.forEach(function (h) {
        var hv = deref(headers[h]);
        table.appendChild(el("tr", null,
          el("td", { class: "name mono" }, h, hv.required ? el("span", { class: "required" }, "required") : null),
          el("td", null, hv.schema ? schemaNode(hv.schema, 1, []) : ""),
          el("td", null, markdown(hv.description))));
      });
      box.appendChild(table);
    }
    if (resp.content) box.appendChild(contentBlock(resp.content));
    return box;
  }

  function operationCard(path, method, op, pathItem) {
    var id = anchor("op", op.operationId || (method + path));
    var card = el("details", { class: "op", id: id });
    card.dataset.search = [method, path, op.operationId || "", op.summary || "", (op.tags || []).join(" ")].join(" ").toLowerCase();
    card.appendChild(el("summary", null,
      el("span", { class: "method " + method }, method),
      el("span", { class: "path mono" }, path),
      el("span", { class: "summary" }, op.summary || ""),
      securityBadge(op)));
    var body = el("div", { class: "body" });
    card.appendChild(body);
    if (op.operationId) body.appendChild(el("div", { class: "constraint" }, "operationId ", el("code", null, op.operationId)));
    body.appendChild(markdown(op.description));

    var params = (pathItem.parameters || []).concat(op.parameters || []);
    if (params.length) { body.appendChild(el("h4", null, "Parameters")); body.appendChild(paramsTable(params)); }

    if (op.requestBody) {
      var rb = deref(op.requestBody);
      body.appendChild(el("h4", null, "Request body", rb.required ? el("span", { class: "required" }, "required") : el("span", { class: "badge" }, "optional")));
      body.appendChild(markdown(rb.description));
      body.appendChild(contentBlock(rb.content));
    }
    body.appendChild(el("h4", null, "Responses"));
    Object.keys(op.responses || {}).forEach(function (status) {
      body.appendChild(responseBlock(status, op.responses[status]));
    });
    return card;
  }

  // ---- page
  function render() {
    var main = document.getElementById("main");
    var nav = document.getElementById("nav");
    main.textContent = "";
    var info = spec.info || {};
    document.getElementById("title").textContent = info.title || "API";
    document.getElementById("version").textContent = "OpenAPI " + (spec.openapi || "?") + " · version " + (info.version || "?");
    document.title = (info.title || "API") + " docs";

    var intro = el("section", { id: "intro" });
    if (info.summary) intro.appendChild(el("p", null, el("strong", null, info.summary)));
    intro.appendChild(markdown(info.description));
    if (spec.servers && spec.servers.length) {
      var sl = el("ul");
      spec.servers.forEach(function (s) { sl.appendChild(el("li", null, el("code", null, s.url), s.description ? " — " + s.description : "")); });
      intro.appendChild(el("h3", null, "Servers"));
      intro.appendChild(sl);
    }
    var schemes = (spec.components || {}).securitySchemes || {};
    if (Object.keys(schemes).length) {
      intro.appendChild(el("h3", null, "Authentication"));
      var list = el("ul");
      Object.keys(schemes).forEach(function (k) {
        var s = schemes[k];
        var how = s.type === "apiKey" ? s["in"] + " " + s.name : s.type + (s.scheme ? " " + s.scheme : "");
        list.appendChild(el("li", null, el("code", null, k), " (" + how + ")", markdown(s.description)));
      });
      intro.appendChild(list);
    }
    main.appendChild(intro);

    // Group operations by their first tag, in the order of the document's tags.
    var groups = {}, order = [];
    (spec.tags || []).forEach(function (t) { groups[t.name] = { tag: t, ops: [] }; order.push(t.name); });
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      METHODS.forEach(function (m) {
        if (!item[m]) return;
        var tag = (item[m].tags || ["other"])[0];
        if (!groups[tag]) { groups[tag] = { tag: { name: tag }, ops: [] }; order.push(tag); }
        groups[tag].ops.push({ path: path, method: m, op: item[m], item: item });
      });
    });
    order.forEach(function (name) {
      var g = groups[name];
      if (!g.ops.length) return;
      nav.appendChild(el("h3", null, name));
      var section = el("section", { class: "tag", id: anchor("tag", name) }, el("h2", null, name), markdown(g.tag.description));
      g.ops.forEach(function (o) {
        var card = operationCard(o.path, o.method, o.op, o.item);
        section.appendChild(card);
        var link = el("a", { href: "#" + card.id }, el("span", { class: "method " + o.method }, o.method), el("span", { class: "path mono" }, o.path));
        link.dataset.search = card.dataset.search;
        link.addEventListener("click", function () { card.open = true; });
        nav.appendChild(link);
      });
      main.appendChild(section);
    });

    var schemas = (spec.components || {}).schemas || {};
    if (Object.keys(schemas).length) {
      var sec = el("section", { class: "tag", id: "schemas" }, el("h2", null, "Schemas"));
      nav.appendChild(el("h3", null, "schemas"));
      Object.keys(schemas).forEach(function (name) {
        var d = el("details", { class: "op", id: anchor("schema", name) },
          el("summary", null, el("span", { class: "path mono" }, name), el("span", { class: "summary" }, schemas[name].description ? String(schemas[name].description).split("\n")[0] : "")));
        d.appendChild(el("div", { class: "body" }, schemaNode(schemas[name], 1, ["#/components/schemas/" + name])));
        sec.appendChild(d);
        var link = el("a", { href: "#" + d.id }, el("span", { class: "path mono" }, name));
        link.dataset.search = name.toLowerCase();
        link.addEventListener("click", function () { d.open = true; });
        nav.appendChild(link);
      });
      main.appendChild(sec);
    }
    openFromHash();
  }

  // A link to a schema or operation opens it.
  function openFromHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
  }

  function filter(text) {
    text = text.trim().toLowerCase();
    document.querySelectorAll("[data-search]").forEach(function (node) {
      node.classList.toggle("hidden", text !== "" && node.dataset.search.indexOf(text) < 0);
    });
  }

  document.getElementById("filter").addEventListener("input", function (e) { filter(e.target.value); });
  window.addEventListener("hashchange", openFromHash);

  fetch("openapi.json", { credentials: "omit", cache: "no-store" })
    .then(function (r) {
      if (!r.ok) throw new Error("openapi.json: HTTP " + r.status);
      return r.json();
    })
    .then(function (doc) { spec = doc; render(); })
    .catch(function (err) {
      var status = document.getElementById("status");
      status.className = "error";
      status.textContent = "Could not load the document: " + err.message;
    });
})();
