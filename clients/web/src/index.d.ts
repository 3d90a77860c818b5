import type { Attributes, Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The part of a SpanExporter this processor uses (OTLPTraceExporter and every SpanExporter fit). */
export interface SpanExporterLike {
  export(spans: ReadableSpan[], resultCallback: (result: { code: number; error?: Error }) => void): void;
}

export interface LongSpanProcessorOptions {
  /** How often open spans are snapshotted, in ms. Default 30000. */
  interval?: number;
  /** Only spans open at least this long (ms, from their start time) get periodic snapshots. Default 30000. */
  minAge?: number;
  /** Upper bound of one periodic export request (OTLP/JSON bytes); more spans -> more requests. Default 60000. */
  maxExportBytes?: number;
  /**
   * Upper bound of the single request sent on hide / pagehide. Keepalive requests of a page share
   * 64 KiB in flight; the default 32768 leaves the rest to the app's BatchSpanProcessor flush.
   * Oldest spans first; a span that does not fit is sent without its events, else left out.
   */
  unloadBytes?: number;
  /**
   * Stamp a session id on every span that has none: `true` keeps it in sessionStorage under
   * `longspan.session.id`, a string names another sessionStorage key. Default off.
   */
  sessionId?: boolean | string;
  /** Attribute the session id is stamped as. Default `session.id` (the collector's `session_attribute`). */
  sessionAttribute?: string;
  /**
   * Makes a new session id (32 hex digits by default). Default: crypto.getRandomValues where the
   * platform has it, else Math.random.
   */
  idGenerator?: () => string;
}

export declare class LongSpanProcessor implements SpanProcessor {
  constructor(exporter: SpanExporterLike, options?: LongSpanProcessorOptions);
  /** The session id stamped on spans, '' when `sessionId` is off. */
  readonly sessionId: string;
  onStart(span: Span, parentContext: Context): void;
  onEnd(span: ReadableSpan): void;
  /**
   * Exports a snapshot (end time 0) of every open span now, in one request of at most
   * `unloadBytes`, with `attributes` added to each. Called on hide / pagehide.
   */
  flushOpen(attributes?: Attributes): void;
  forceFlush(): Promise<void>;
  /** Stops the timer and removes the page listeners; does not shut the exporter down. */
  shutdown(): Promise<void>;
}
