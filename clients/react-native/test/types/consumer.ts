// Type-checked by test/types.test.js: the .d.ts fits the OTel 2.x SDK types and react-native's shapes.
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LongSpanProcessor, type LongSpanProcessorOptions } from '@otelcol-longspan/react-native';

// react-native's AppState and AsyncStorage, by shape.
declare const AppState: { currentState: string; addEventListener(type: 'change', fn: (s: string) => void): { remove(): void } };
declare const AsyncStorage: { getItem(k: string): Promise<string | null>; setItem(k: string, v: string): Promise<void>; removeItem(k: string): Promise<void> };

const exporter = new InMemorySpanExporter();
let provider: BasicTracerProvider | undefined;
const options: LongSpanProcessorOptions = { appState: AppState, storage: AsyncStorage, flush: () => provider?.forceFlush(), sessionTimeout: 15 * 60_000 };
const longspan = new LongSpanProcessor(exporter, options);
const p: SpanProcessor = longspan;
provider = new BasicTracerProvider({ spanProcessors: [p, new BatchSpanProcessor(exporter)] });
const id: string = longspan.sessionId;
const ready: Promise<void> = longspan.ready;
void longspan.flushOpen({ 'app.reason': 'checkpoint' });
void id;
void ready;
