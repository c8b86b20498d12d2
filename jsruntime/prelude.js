// Runs in every fresh interpreter before the job's script: a global script named "<traitor>",
// compiled once per worker to QuickJS bytecode (see worker.py) and wrapped in a function so
// nothing here but the globals it sets is reachable. It gives scripts their globals (console,
// job, require, process) and hides the bridge to the host: dukpy's C layer publishes
// `call_python` and `dukpy` on the global object at every eval, so both are accessors whose
// setters keep the value here, out of the script's reach.
(function () {
"use strict";
const plugins = __PLUGINS__;
let host = null;
let outputLeft = 0;
let toldDropped = false;

function hidden(setter) {
  return { get() { return undefined; }, set: setter, configurable: false, enumerable: false };
}
Object.defineProperty(globalThis, "call_python", hidden(function (bridge) {
  if (host === null) host = bridge;
}));
Object.defineProperty(globalThis, "dukpy", hidden(function (run) {
  // Called by the C layer with this eval's keyword arguments, just before the script runs.
  if (run && run.job) {
    globalThis.job = Object.freeze(run.job);
    outputLeft = run.outputBytes;
  }
}));

// --- console: util.format semantics, objects as JSON ---------------------------------------

function describeFunction(fn) {
  return "[Function: " + (fn.name || "(anonymous)") + "]";
}

function asJson(value) {
  const ancestors = [];
  try {
    const text = JSON.stringify(value, function (key, item) {
      if (typeof item === "bigint") return item.toString() + "n";
      if (typeof item === "function") return describeFunction(item);
      if (typeof item === "symbol") return item.toString();
      if (item !== null && typeof item === "object") {
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
        if (ancestors.includes(item)) return "[Circular]";
        ancestors.push(item);
      }
      return item;
    });
    return text === undefined ? String(value) : text;
  } catch (e) {
    return String(value);
  }
}

function show(value) {
  switch (typeof value) {
    case "string": return value;
    case "undefined": return "undefined";
    case "bigint": return value.toString() + "n";
    case "symbol": return value.toString();
    case "function": return describeFunction(value);
    case "object":
      if (value === null) return "null";
      if (value instanceof Error) {
        const stack = typeof value.stack === "string" ? value.stack.replace(/<dukpy>/g, "<script>") : "";
        return String(value) + (stack ? "\n" + stack.replace(/\s+$/, "") : "");
      }
      return asJson(value);
    default: return String(value);
  }
}

function formatNumber(value, parse) {
  if (typeof value === "bigint") return value.toString() + "n";
  if (typeof value === "symbol") return "NaN";
  return String(parse(value));
}

function format(args) {
  let out = "";
  let next = 0;
  if (typeof args[0] === "string") {
    const template = args[0];
    next = 1;
    if (args.length === 1 || template.indexOf("%") < 0) {
      out = template;
    } else {
      let last = 0;
      for (let i = 0; i < template.length - 1; i++) {
        if (template.charCodeAt(i) !== 37) continue; // '%'
        const spec = template[i + 1];
        let piece;
        if (spec === "%") {
          piece = "%";
        } else if ("sdifjoOc".indexOf(spec) >= 0) {
          if (next >= args.length) continue; // no argument left: leave the placeholder as is
          const arg = args[next++];
          switch (spec) {
            case "s": piece = show(arg); break;
            case "d": piece = formatNumber(arg, Number); break;
            case "i": piece = formatNumber(arg, parseInt); break;
            case "f": piece = formatNumber(arg, parseFloat); break;
            case "j": {
              const text = asJson(arg);
              piece = arg === undefined ? "undefined" : text;
              break;
            }
            case "c": piece = ""; break;
            default: piece = show(arg);
          }
        } else {
          continue;
        }
        out += template.slice(last, i) + piece;
        last = i + 2;
        i++;
      }
      out += template.slice(last);
    }
  }
  for (; next < args.length; next++) {
    out += (out.length > 0 || next > 0 ? " " : "") + show(args[next]);
  }
  return out;
}

function printer(level) {
  return function () {
    if (outputLeft <= 0) {
      // Past the output limit: tell the host once that lines were dropped, then stay cheap.
      if (!toldDropped) {
        toldDropped = true;
        host("traitor.console", level, null);
      }
      return;
    }
    let text = format(arguments);
    // Each character is at least one UTF-8 byte, so this cut never drops what would fit.
    if (text.length > outputLeft) text = text.slice(0, outputLeft);
    outputLeft = host("traitor.console", level, text);
  };
}

globalThis.console = Object.freeze({
  log: printer("log"),
  info: printer("info"),
  warn: printer("warn"),
  error: printer("error"),
  debug: printer("debug"),
});

// --- modules -----------------------------------------------------------------------------

// A host call that returned after the run's deadline: wait here for the stop, which is
// uncatchable, rather than let the script run on for the moment until the next timer tick.
function stopIfExpired(reply) {
  if (reply.expired === true) {
    for (;;) {}
  }
  return reply;
}

function fail(message, code) {
  const error = new Error(message);
  if (code) error.code = code;
  return error;
}

function makeResponse(r) {
  return Object.freeze({
    status: r.status,
    statusText: r.reason,
    ok: r.status >= 200 && r.status < 300,
    headers: Object.freeze(r.headers),
    body: r.body,
    url: r.url,
    redirected: r.redirected,
    // The original Traitor's names.
    Status: r.status + " " + r.reason,
    StatusCode: r.status,
    ResponseText: r.body,
    text() { return r.body; },
    json() { return JSON.parse(r.body); },
  });
}

function requestNow(options) {
  if (typeof options === "string") options = { url: options };
  if (options === null || typeof options !== "object" || typeof options.url !== "string") {
    throw new TypeError("http.request needs an object with a url string");
  }
  const headers = {};
  if (options.headers && typeof options.headers === "object") {
    for (const name of Object.keys(options.headers)) headers[name] = String(options.headers[name]);
  }
  let body = options.body;
  if (body !== undefined && body !== null && typeof body !== "string") {
    body = JSON.stringify(body);
    const named = Object.keys(headers).some((h) => h.toLowerCase() === "content-type");
    if (!named) headers["Content-Type"] = "application/json";
  }
  const reply = stopIfExpired(host("traitor.http", {
    method: options.method === undefined ? "GET" : String(options.method),
    url: options.url,
    headers: headers,
    body: body === undefined || body === null ? null : body,
    timeout: options.timeout === undefined || options.timeout === null ? null : Number(options.timeout),
    followRedirects: options.followRedirects !== false,
  }));
  if (reply.error !== undefined) throw fail(reply.error, reply.code);
  return makeResponse(reply);
}

function request(options) {
  try {
    return Promise.resolve(requestNow(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function get(url, onSuccess, onError) {
  const options = typeof url === "object" && url !== null ? Object.assign({}, url, { method: "GET" })
    : { url: url, method: "GET" };
  if (typeof onSuccess !== "function" && typeof onError !== "function") return request(options);
  let response;
  try {
    response = requestNow(options);
  } catch (error) {
    if (typeof onError === "function") {
      onError(error);
      return undefined;
    }
    throw error;
  }
  if (typeof onSuccess === "function") onSuccess(response);
  return undefined;
}

const modules = { http: Object.freeze({ get: get, request: request }) };

for (const name of Object.keys(plugins)) {
  const exported = {};
  for (const fn of plugins[name]) {
    exported[fn] = function () {
      const args = Array.prototype.slice.call(arguments);
      const reply = stopIfExpired(host("traitor.plugin", name, fn, args));
      if (reply.error !== undefined) throw fail(reply.error, reply.code);
      return reply.value;
    };
  }
  modules[name] = Object.freeze(exported);
}

const known = Object.keys(modules).sort();

globalThis.require = function require(name) {
  if (typeof name === "string" && Object.prototype.hasOwnProperty.call(modules, name)) {
    return modules[name];
  }
  throw fail(
    "Cannot find module '" + String(name) + "': scripts can require only " +
      known.map((n) => "'" + n + "'").join(", ") + " (files are never loaded)",
    "MODULE_NOT_FOUND",
  );
};

// Scripts written for dukpy read process.env; it is empty by design.
globalThis.process = Object.freeze({ env: Object.freeze({}) });
})();
