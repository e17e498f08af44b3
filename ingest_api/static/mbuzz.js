/*! mbuzz.js: mbuzz's first-party website tracker (MIT). docs/api/browser.md
 *
 * <script src="https://HOST/mbuzz.js" data-key="pk_live_…" async></script>
 *
 * Attributes of the script tag: data-key (a publishable key, required), data-host (the mbuzz
 * origin; default: where this file was loaded from), data-respect-dnt="true" (send nothing when
 * the browser asks for Do-Not-Track or Global Privacy Control), data-auto-page="false" (no page
 * view on load and on route changes), data-cookie-domain=".example.com" (share the visitor id
 * with the site's subdomains).
 *
 * Page views, track, identify and alias are Segment-format messages POSTed in batches to
 * HOST/v1/b as text/plain JSON with the key in the body (a simple request: no preflight, and
 * sendBeacon can send it on unload). Conversions go to HOST/api/v1/conversions. Every message
 * has a messageId made here, so a retry is stored once. Both carry the browser's time of the call
 * and of the send (sentAt, sent_at), so the server corrects for a skewed browser clock.
 */
(function (window, document) {
  'use strict';

  var VERSION = '1.0.0';
  var VISITOR = '_mbuzz_vid';
  var USER = '_mbuzz_uid';
  var OUTBOX = '_mbuzz_outbox';
  var VISITOR_DAYS = 395;          // about 13 months
  var MAX_ATTEMPTS = 4;            // the first try and 3 retries
  var MAX_OUTBOX = 100;            // messages kept for the next page when the page goes away
  var KEEPALIVE_BYTES = 60000;     // browsers cap keepalive bodies at 64 KiB in flight

  var queued = window.mbuzz;
  if (queued && queued.loaded) return;   // the script is on the page twice

  // ------------------------------------------------------------------ configuration

  function ownScript() {
    if (document.currentScript) return document.currentScript;
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/mbuzz\.js(\?|#|$)/.test(scripts[i].src || '')) return scripts[i];
    }
    return null;
  }

  var script = ownScript();
  function attr(name) {
    return script ? script.getAttribute('data-' + name) : null;
  }
  var key = attr('key') || '';
  var host = (attr('host') || (script && script.src ? new URL(script.src, location.href).origin : location.origin))
    .replace(/\/+$/, '');
  var nav = window.navigator || {};
  var privacyAsked = nav.doNotTrack === '1' || nav.doNotTrack === 'yes' || window.doNotTrack === '1' ||
    nav.msDoNotTrack === '1' || nav.globalPrivacyControl === true;
  var disabled = (attr('respect-dnt') === 'true' && privacyAsked) || !key;
  if (!key && window.console) window.console.warn('mbuzz.js: no data-key on the script tag: nothing is sent');

  // ------------------------------------------------------------------ storage

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function readCookie(name) {
    var match = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return match ? decodeURIComponent(match[1]) : null;
  }
  function writeCookie(name, value, days) {
    var parts = [name + '=' + encodeURIComponent(value), 'path=/', 'max-age=' + days * 86400, 'SameSite=Lax'];
    if (attr('cookie-domain')) parts.push('domain=' + attr('cookie-domain'));
    if (location.protocol === 'https:') parts.push('Secure');
    try { document.cookie = parts.join('; '); } catch (e) { /* cookies blocked */ }
  }
  function remember(name, value) {       // the cookie, else localStorage, else this page only
    var store = storage();
    writeCookie(name, value, VISITOR_DAYS);
    if (readCookie(name) === value) return;
    try { if (store) store.setItem(name, value); } catch (e) { /* storage full or blocked */ }
  }
  function recall(name) {
    var store = storage();
    var value = readCookie(name);
    try { value = value || (store && store.getItem(name)); } catch (e) { /* blocked */ }
    return value || null;
  }
  function forget(name) {
    writeCookie(name, '', 0);
    try { if (storage()) storage().removeItem(name); } catch (e) { /* blocked */ }
  }

  function uuid() {
    var c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = '';
    for (var j = 0; j < 16; j++) h += (b[j] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(j) >= 0 ? '-' : '');
    return h;
  }

  var visitorId = null;
  var userId = null;
  if (!disabled) {
    visitorId = recall(VISITOR) || uuid();
    remember(VISITOR, visitorId);      // also renews the cookie's lifetime
    userId = recall(USER);
  }

  // ------------------------------------------------------------------ messages

  function campaign(search) {            // analytics.js's rule: utm_campaign → name, utm_X → X
    var out = null;
    var params = new URLSearchParams(search);
    params.forEach(function (value, name) {
      var match = /^utm_(.+)$/.exec(name);
      if (!match || !value) return;
      out = out || {};
      out[match[1] === 'campaign' ? 'name' : match[1]] = value;
    });
    return out;
  }

  function pageContext(referrer) {
    return {
      path: location.pathname,
      referrer: referrer,
      search: location.search,
      title: document.title,
      url: location.href
    };
  }

  var lastUrl = location.href;
  var lastReferrer = document.referrer;

  function message(type, fields) {
    var context = {
      page: pageContext(lastReferrer),
      userAgent: nav.userAgent,
      locale: nav.language,
      library: { name: 'mbuzz.js', version: VERSION }
    };
    var utm = campaign(location.search);
    if (utm) context.campaign = utm;
    var msg = {
      type: type,
      messageId: uuid(),
      anonymousId: visitorId,
      timestamp: new Date().toISOString(),
      context: context
    };
    if (userId) msg.userId = userId;
    for (var name in fields) if (Object.prototype.hasOwnProperty.call(fields, name)) msg[name] = fields[name];
    return msg;
  }

  // ------------------------------------------------------------------ delivery

  // A message is in one place at a time: the queue (not sent yet, or due for a retry), in flight
  // (a keepalive fetch, which outlives the page), or waiting for its retry (after a failure).
  var queue = [];          // {msg, attempts}
  var retrying = [];       // failed once or more, waiting for the backoff to end
  var timer = null;

  function backoff(attempts) {
    return Math.min(30000, 1000 * Math.pow(2, attempts - 1)) * (0.75 + Math.random() * 0.5);
  }

  function schedule(delay) {
    if (timer === null) timer = setTimeout(flush, delay);
  }

  function enqueue(item) {
    queue.push(item);
    schedule(queue.length >= 20 ? 0 : 50);
  }

  function body(items) {
    return JSON.stringify({
      batch: items.map(function (item) { return item.msg; }),
      sentAt: new Date().toISOString(),
      writeKey: key
    });
  }

  function retry(items, status, retryAfter) {
    var again = items.filter(function (item) { return item.attempts < MAX_ATTEMPTS; });
    if (again.length < items.length && window.console) {
      window.console.warn('mbuzz.js: gave up on ' + (items.length - again.length) + ' message(s) after ' +
        MAX_ATTEMPTS + ' attempts (last status: ' + (status || 'network error') + ')');
    }
    if (!again.length) return;
    retrying = retrying.concat(again);
    var seconds = parseFloat(retryAfter);
    setTimeout(function () {
      retrying = retrying.filter(function (item) { return again.indexOf(item) < 0; });
      for (var i = 0; i < again.length; i++) enqueue(again[i]);
    }, seconds > 0 ? Math.min(seconds, 60) * 1000 : backoff(again[0].attempts));
  }

  function flush() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    if (!queue.length) return;
    var items = queue.splice(0, 100);
    if (queue.length) schedule(0);
    for (var i = 0; i < items.length; i++) items[i].attempts += 1;
    var text = body(items);
    fetch(host + '/v1/b', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: text,
      keepalive: text.length < KEEPALIVE_BYTES,
      credentials: 'omit'
    }).then(function (response) {
      if (response.ok) return;
      if (response.status === 429 || response.status >= 500) {
        return retry(items, response.status, response.headers.get('Retry-After'));
      }
      return response.text().then(function (answer) {   // 4xx: retrying cannot help; say why
        if (window.console) window.console.warn('mbuzz.js: ' + response.status + ' from ' + host + ': ' + answer);
      });
    }, function () {
      retry(items, 0, null);                // offline, blocked or refused by CORS
    });
  }

  // The page is going away (the queue was flushed when it was hidden): beacon what is still
  // queued or waiting for a retry, and keep what failed before for the next page of this site.
  // The server stores each messageId once, so a message that arrives twice is no harm.
  function leaving() {
    var items = queue.concat(retrying);
    if (!items.length || disabled) return;
    if (timer !== null) { clearTimeout(timer); timer = null; }
    var text = body(items);
    var beaconed = false;
    if (nav.sendBeacon && text.length < KEEPALIVE_BYTES) {
      try { beaconed = nav.sendBeacon(host + '/v1/b', new Blob([text], { type: 'text/plain' })); } catch (e) { /* ignore */ }
    }
    var keep = (beaconed ? retrying : items).slice(-MAX_OUTBOX);
    try { if (keep.length && storage()) storage().setItem(OUTBOX, JSON.stringify(keep)); } catch (e) { /* ignore */ }
  }

  function resendOutbox() {
    var store = storage();
    var saved = null;
    try {
      saved = store && JSON.parse(store.getItem(OUTBOX) || 'null');
      if (saved) store.removeItem(OUTBOX);
    } catch (e) { /* blocked or not ours */ }
    if (!saved || !saved.length) return;
    for (var i = 0; i < saved.length && i < MAX_OUTBOX; i++) {
      if (saved[i] && saved[i].msg) enqueue({ msg: saved[i].msg, attempts: saved[i].attempts || 1 });
    }
  }

  function send(type, fields) {
    if (disabled) return;
    enqueue({ msg: message(type, fields || {}), attempts: 0 });
  }

  function conversionRequest(payload, attempts, resolve) {
    payload.sent_at = new Date().toISOString();   // the server corrects the timestamp for this clock's skew
    var text = JSON.stringify(payload);
    fetch(host + '/api/v1/conversions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + key },
      body: text,
      keepalive: text.length < KEEPALIVE_BYTES,
      credentials: 'omit'
    }).then(function (response) {
      if (response.ok) return response.json().then(resolve);
      if ((response.status === 429 || response.status >= 500) && attempts < MAX_ATTEMPTS) {
        var seconds = parseFloat(response.headers.get('Retry-After'));
        return setTimeout(function () { conversionRequest(payload, attempts + 1, resolve); },
          seconds > 0 ? Math.min(seconds, 60) * 1000 : backoff(attempts));
      }
      return response.json().then(function (answer) {
        if (window.console) window.console.warn('mbuzz.js: conversion refused (' + response.status + ')', answer);
        resolve(null);
      }, function () { resolve(null); });
    }, function () {
      if (attempts < MAX_ATTEMPTS) {
        setTimeout(function () { conversionRequest(payload, attempts + 1, resolve); }, backoff(attempts));
      } else {
        resolve(null);
      }
    });
  }

  // ------------------------------------------------------------------ the API

  var mbuzz = {
    loaded: true,
    version: VERSION,
    disabled: disabled,

    page: function (name, properties) {
      if (typeof name === 'object' && name !== null) { properties = name; name = null; }
      var props = pageContext(lastReferrer);
      for (var p in properties || {}) if (Object.prototype.hasOwnProperty.call(properties, p)) props[p] = properties[p];
      var fields = { properties: props };
      if (name) fields.name = name;
      send('page', fields);
    },

    track: function (event, properties) {
      send('track', { event: String(event), properties: properties || {} });
    },

    identify: function (id, traits) {
      if (disabled || !id) return;
      userId = String(id);
      remember(USER, userId);
      send('identify', { userId: userId, traits: traits || {} });
    },

    // Links this browser's anonymous visitor (or `previousId`) to the user `id`.
    alias: function (id, previousId) {
      if (disabled || !id) return;
      send('alias', { userId: String(id), previousId: previousId ? String(previousId) : visitorId });
    },

    // mbuzz.conversion('purchase', {revenue: 49.9, currency: 'EUR', properties: {order_id: 'A-1'}})
    // → a Promise of the server's answer ({conversion_id}) or null when it was not recorded.
    conversion: function (type, options) {
      options = options || {};
      if (disabled) return Promise.resolve(null);
      var payload = { conversion_type: String(type), visitor_id: visitorId, timestamp: new Date().toISOString() };
      if (userId) payload.user_id = userId;
      if (options.revenue !== undefined && options.revenue !== null) payload.revenue = options.revenue;
      if (options.currency) payload.currency = options.currency;
      if (options.properties) payload.properties = options.properties;
      // the same visitor, type and timestamp on every retry (only sent_at changes): recorded once
      return new Promise(function (resolve) { conversionRequest(payload, 1, resolve); });
    },

    visitorId: function () { return visitorId; },
    userId: function () { return userId; },

    // Signing out: a new anonymous visitor id, and the user id forgotten.
    reset: function () {
      if (disabled) return;
      forget(USER);
      userId = null;
      visitorId = uuid();
      remember(VISITOR, visitorId);
    },

    flush: flush,

    push: function (call) {            // the queue snippet's calls, before and after loading
      var method = call && mbuzz[call[0]];
      if (typeof method === 'function' && call[0] !== 'push') method.apply(mbuzz, Array.prototype.slice.call(call, 1));
    }
  };

  // ------------------------------------------------------------------ single-page apps

  function routeKey(href) {              // a jump to an anchor is not a new page; #/route is
    var url = new URL(href);
    var hash = /^#[!/]/.test(url.hash) ? url.hash : '';
    return url.origin + url.pathname + url.search + hash;
  }

  function routeChanged() {
    var href = location.href;
    if (routeKey(href) === routeKey(lastUrl)) return;
    lastReferrer = lastUrl;
    lastUrl = href;
    setTimeout(function () { mbuzz.page(); }, 0);   // after the app has set the new title
  }

  function watchHistory() {
    var history = window.history;
    ['pushState', 'replaceState'].forEach(function (name) {
      var original = history[name];
      if (typeof original !== 'function') return;
      history[name] = function () {
        var result = original.apply(this, arguments);
        routeChanged();
        return result;
      };
    });
    window.addEventListener('popstate', routeChanged);
    window.addEventListener('hashchange', routeChanged);
  }

  // ------------------------------------------------------------------ start

  window.mbuzz = mbuzz;
  if (!disabled) {
    window.addEventListener('pagehide', leaving);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') flush();
    });
    resendOutbox();
  }
  var autoPage = attr('auto-page') !== 'false';
  if (autoPage && !disabled) {
    mbuzz.page();
    watchHistory();
  }
  if (queued && queued.length) {         // calls made before the script loaded, in order
    for (var i = 0; i < queued.length; i++) mbuzz.push(queued[i]);
  }
}(window, document));
