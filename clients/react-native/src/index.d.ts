import type { Attributes, Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The part of a SpanExporter this processor uses (OTLPTraceExporter and every SpanExporter fit). */
export interface SpanExporterLike {
  export(spans: ReadableSpan[], resultCallback: (result: { code: number; error?: Error }) => void): void;
}

/** The part of react-native's AppState this processor uses. */
export interface AppStateLike {
  currentState?: string | null;
  addEventListener(type: 'change', listener: (state: string) => void): { remove(): void };
}

/** The part of @react-native-async-storage/async-storage this processor uses. */
export interface StorageLike {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

export interface LongSpanProcessorOptions {
  /** react-native's `AppState`: background -> flush with hint app_background, active -> flush. */
  appState?: AppStateLike;
  /** AsyncStorage (or the same shape): session id and open spans survive a kill. Without it nothing is persisted. */
  storage?: StorageLike;
  /** Storage key of the processor's state. Default `longspan.state`. */
  storageKey?: string;
  /** A return to the foreground after a background longer than this (ms) starts a new session id. Default 900000 (15 min). */
  sessionTimeout?: number;
  /** Called on background after the snapshots, e.g. `() => provider.forceFlush()` (sends the BatchSpanProcessor's queue). */
  flush?: () => unknown;
  /** Called when a new session id starts after a long background. */
  onSessionChange?: (newId: string, oldId: string) => void;
  /** How often open spans are snapshotted, in ms (in the foreground). Default 30000. */
  interval?: number;
  /** Only spans open at least this long (ms) get periodic snapshots (and are persisted by them). Default 30000. */
  minAge?: number;
  /** Upper bound of one export request (OTLP/JSON bytes), and of the open spans persisted. Default 60000. */
  maxExportBytes?: number;
  /** Attribute the session id is stamped as. Default `session.id`. */
  sessionAttribute?: string;
  /** Makes a new session id (32 hex digits by default). Default: crypto.getRandomValues if present, else Math.random. */
  idGenerator?: () => string;
}

export declare const LAST_SEEN: 'longspan.client.last_seen_unix_nano';
export declare const HINT: 'longspan.client.hint';
export declare const NOW: 'longspan.client.now_unix_nano';
export declare const APP_BACKGROUND: 'app_background';
export declare const APP_TERMINATED: 'app_terminated';

export declare class LongSpanProcessor implements SpanProcessor {
  constructor(exporter: SpanExporterLike, options?: LongSpanProcessorOptions);
  /** The session id stamped on spans (`session.id`); changes after a background longer than sessionTimeout. */
  readonly sessionId: string;
  /** Settles once storage was read: session restored, the previous run's open spans reported. */
  readonly ready: Promise<void>;
  onStart(span: Span, parentContext: Context): void;
  onEnd(span: ReadableSpan): void;
  /** Exports a snapshot (end time 0) of every open span now, with `attributes` added to each. */
  flushOpen(attributes?: Attributes): Promise<void>;
  /** Waits for this processor's exports and storage writes. */
  forceFlush(): Promise<void>;
  /** Stops the timer and the AppState listener; does not shut the exporter down. Storage keeps the open spans. */
  shutdown(): Promise<void>;
}
