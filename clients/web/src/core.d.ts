// The engine-neutral processor core shared by @otelcol-longspan/web and @otelcol-longspan/react-native.
import type { Attributes, Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporterLike } from './index.js';

export declare const HINT: 'longspan.client.hint';
export declare const NOW: 'longspan.client.now_unix_nano';
export declare const ZERO: [number, number];
export declare function ms(t: [number, number]): number;
export declare function utf8(s: string): number;
export declare function size(s: ReadableSpan): number;
export declare function rsize(r: { attributes?: Attributes } | undefined): number;
export declare function snap(s: ReadableSpan, extra?: Attributes): ReadableSpan;
export declare function fit(s: ReadableSpan, extra: Attributes | undefined, max: number): [ReadableSpan, number] | undefined;
export declare function pack(spans: ReadableSpan[], extra: Attributes | undefined, max: number, one?: boolean): ReadableSpan[][];
export declare function nowAttr(nowMs: number): Attributes;
export declare function byStart(a: ReadableSpan, b: ReadableSpan): number;
export declare function randomId(): string;

export interface LongSpanCoreOptions {
  interval?: number;
  minAge?: number;
  maxExportBytes?: number;
  sessionAttribute?: string;
  idGenerator?: () => string;
}

export declare class LongSpanCore implements SpanProcessor {
  constructor(exporter: SpanExporterLike, options?: LongSpanCoreOptions);
  sessionId: string;
  onStart(span: Span, parentContext: Context): void;
  onEnd(span: ReadableSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
