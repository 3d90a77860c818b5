// Runs on the Hermes VM before the app bundle: what React Native itself gives an app and the bare
// VM (hermes-engine-cli 0.12) lacks — console, timers on a clock, setInterval, fetch — and nothing
// else: no crypto, no TextEncoder, no document, no URL.
//
// The virtual clock owns Date.now, performance.now and every timer: hermes-engine-cli's own
// setTimeout ignores delays, so __advance(ms) runs the timers due in order, moving the clock to
// each one's time, and between timers yields to the VM's task loop (its setTimeout(fn, 0)) so
// that promise jobs (-Xmicrotask-queue) run as they would between React Native's tasks.
//
// fetch prints each request (`__OTLP__ {json}`) and answers 200: the harness (lib/hermes.js)
// collects them and posts them to the collector. __step(name) labels the requests after it.
// __HARNESS (set by the harness just before this file): {launch, startMs, storage, otlpUrl}.
(function (g) {
  'use strict';
  var H = g.__HARNESS;
  var hostSetTimeout = g.setTimeout;
  var now = H.startMs;
  var origin = H.startMs;
  var timers = []; // {id, at, fn, every}
  var nextId = 1;
  var step = '';

  g.Date.now = function () {
    return now;
  };
  g.performance = {
    timeOrigin: origin,
    now: function () {
      return now - origin;
    },
  };

  function add(fn, ms, every, args) {
    var id = nextId++;
    var d = Math.max(0, +ms || 0);
    timers.push({ id: id, at: now + d, fn: fn, args: args, every: every ? Math.max(1, d) : 0 });
    return id;
  }
  function clear(id) {
    for (var i = 0; i < timers.length; i++) if (timers[i].id === id) timers.splice(i, 1);
  }
  g.setTimeout = function (fn, ms) {
    return add(fn, ms, false, Array.prototype.slice.call(arguments, 2));
  };
  g.setInterval = function (fn, ms) {
    return add(fn, ms, true, Array.prototype.slice.call(arguments, 2));
  };
  g.clearTimeout = clear;
  g.clearInterval = clear;
  g.setImmediate = function (fn) {
    return add(fn, 0, false, Array.prototype.slice.call(arguments, 1));
  };
  g.clearImmediate = clear;

  function yieldToVM() {
    return new Promise(function (resolve) {
      hostSetTimeout(resolve, 0);
    });
  }

  /** Moves the clock forward by ms, running every timer due on the way (each at its own time). */
  g.__advance = function (ms) {
    var target = now + ms;
    function loop() {
      var due = null;
      for (var i = 0; i < timers.length; i++) if (timers[i].at <= target && (!due || timers[i].at < due.at)) due = timers[i];
      if (!due) {
        now = target;
        return yieldToVM();
      }
      now = Math.max(now, due.at);
      if (due.every) due.at += due.every;
      else clear(due.id);
      due.fn.apply(null, due.args);
      return yieldToVM().then(yieldToVM).then(loop);
    }
    return yieldToVM().then(loop);
  };

  function out(tag, obj) {
    print(tag + ' ' + JSON.stringify(obj));
  }
  g.__step = function (name) {
    step = name;
    out('__STEP__', { step: name, at: now });
  };
  g.__done = function (result) {
    out('__DONE__', result);
  };

  g.fetch = function (url, init) {
    out('__OTLP__', { step: step, at: now, url: String(url), method: init && init.method, body: init && init.body });
    return Promise.resolve({
      ok: true,
      status: 200,
      headers: { get: function () { return null; } },
      text: function () { return Promise.resolve(''); },
      json: function () { return Promise.resolve({}); },
    });
  };

  function log(level) {
    return function () {
      var parts = [];
      for (var i = 0; i < arguments.length; i++) {
        var a = arguments[i];
        parts.push(typeof a === 'string' ? a : a instanceof Error ? String(a.stack || a) : JSON.stringify(a));
      }
      print('__CONSOLE__ ' + level + ' ' + parts.join(' '));
    };
  }
  g.console = { log: log('log'), info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug'), trace: log('trace') };

  g.__LAUNCH = H.launch;
  g.__STORAGE = H.storage;
  g.__OTLP_URL = H.otlpUrl;
})(globalThis);
