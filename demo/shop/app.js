// The demo shop's instrumentation: the OpenTelemetry web SDK 2.x and its OTLP/HTTP exporter,
// plus @otelcol-longspan/web, wired as clients/web/README.md says. Bundled by server.js
// (esbuild). window.DEMO (from /config.js) has the collector and Jaeger URLs.
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LongSpanProcessor } from '@otelcol-longspan/web';

const cfg = window.DEMO;

// --- the setup an app adds (clients/web/README.md) ---
const exporter = new OTLPTraceExporter({ url: cfg.otlpUrl });
const longspan = new LongSpanProcessor(exporter, { interval: cfg.clientInterval, minAge: 0, sessionId: true });
const provider = new WebTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'demo-shop', 'service.version': '1.0.0' }),
  spanProcessors: [longspan, new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
});
const tracer = provider.getTracer('demo-shop', '1.0.0');
// The page session: open while the tab lives (hours, in a real shop).
const session = tracer.startSpan('page.session', { attributes: { 'page.url': location.href } });
const sessionCtx = trace.setSpan(context.active(), session);
// Tell the collector at once that page.session is open (not only after the first interval),
// so that it holds the session's ended spans (cart.add, ...) from the first click on.
longspan.flushOpen();
// ---

const products = [
  { id: 'espresso', name: 'Espresso beans', price: 12.5 },
  { id: 'filter', name: 'Filter roast', price: 10.0 },
  { id: 'grinder', name: 'Hand grinder', price: 49.0 },
  { id: 'mug', name: 'Enamel mug', price: 8.0 },
];
const cart = [];
let checkout = null; // the open checkout span
let checkoutCtx = null;
const $ = (id) => document.getElementById(id);
const show = (view) => document.querySelectorAll('.view').forEach((v) => v.classList.toggle('on', v.id === view));
const status = (t) => ($('status').textContent = t);
const total = () => cart.reduce((s, p) => s + p.price, 0);

function addToCart(p) {
  const s = tracer.startSpan('cart.add', { attributes: { 'product.id': p.id, 'product.price': p.price } }, sessionCtx);
  cart.push(p);
  s.setAttribute('cart.items', cart.length);
  $('cart-count').textContent = `cart: ${cart.length}`;
  status(`${p.name} added`);
  // Ends once the cart has been drawn: a span ended in the same tick can have a zero
  // duration at the browser's timer resolution, which Jaeger flags ("Negative duration
  // detected") in the trace view.
  requestAnimationFrame(() => setTimeout(() => s.end(), 0));
}

function startCheckout() {
  if (checkout || !cart.length) return status(cart.length ? '' : 'the cart is empty');
  checkout = tracer.startSpan('checkout', { attributes: { 'cart.items': cart.length, 'cart.total': total() } }, sessionCtx);
  checkoutCtx = trace.setSpan(sessionCtx, checkout);
  $('summary').textContent = `${cart.length} items, ${total().toFixed(2)} EUR`;
  show('checkout');
  status('checkout started (the checkout span is open)');
}

async function placeOrder() {
  if (!checkout) return;
  const pay = tracer.startSpan('payment.authorize', { attributes: { 'payment.method': 'card' } }, checkoutCtx);
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 400));
  pay.end();
  const order = `o-${Date.now().toString(36)}`;
  checkout.setAttribute('order.id', order);
  checkout.end();
  checkout = null;
  cart.length = 0;
  $('cart-count').textContent = 'cart: 0';
  show('shop');
  status(`order ${order} placed`);
}

function cancelCheckout() {
  if (!checkout) return show('shop');
  checkout.setStatus({ code: SpanStatusCode.UNSET });
  checkout.setAttribute('checkout.outcome', 'back_to_shop');
  checkout.end();
  checkout = null;
  show('shop');
}

function signOut() {
  if (checkout) cancelCheckout();
  session.setAttribute('session.outcome', 'signed_out');
  session.end();
  provider.forceFlush();
  document.querySelectorAll('button').forEach((b) => (b.disabled = true));
  status('signed out: page.session ended normally (reload to start a new session)');
}

for (const p of products) {
  const card = document.createElement('div');
  card.className = 'card';
  card.innerHTML = `<h3></h3><p></p><button>Add to cart</button>`;
  card.querySelector('h3').textContent = p.name;
  card.querySelector('p').textContent = `${p.price.toFixed(2)} EUR`;
  card.querySelector('button').id = `add-${p.id}`;
  card.querySelector('button').onclick = () => addToCart(p);
  $('products').appendChild(card);
}
$('to-checkout').onclick = startCheckout;
$('place-order').onclick = placeOrder;
$('cancel').onclick = cancelCheckout;
$('sign-out').onclick = signOut;

const { traceId, spanId } = session.spanContext();
$('trace-id').textContent = traceId;
$('session-id').textContent = longspan.sessionId;
$('jaeger-link').href = `${cfg.jaegerUrl}/trace/${traceId}`;

// For the headless driver (make demo-shots).
window.shop = { traceId, spanId, sessionId: longspan.sessionId, checkoutSpanId: () => checkout?.spanContext().spanId };
document.title = `Longspan Coffee`;
document.body.dataset.ready = '1';
