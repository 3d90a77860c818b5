// Type-checked by test/types.test.js: the .d.ts fits the OTel 2.x SDK types.
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LongSpanProcessor, type LongSpanProcessorOptions } from '@otelcol-longspan/web';

const exporter = new InMemorySpanExporter();
const options: LongSpanProcessorOptions = { interval: 30_000, minAge: 30_000, sessionId: true, unloadBytes: 32768 };
const longspan: SpanProcessor = new LongSpanProcessor(exporter, options);
const provider = new BasicTracerProvider({ spanProcessors: [longspan, new BatchSpanProcessor(exporter)] });
const id: string = (longspan as LongSpanProcessor).sessionId;
(longspan as LongSpanProcessor).flushOpen({ 'app.reason': 'checkpoint' });
void provider;
void id;
