#pragma once
// The tracing tap: a sampled request's spans, built from what the pipeline and the router
// recorded, handed to the exporter (no I/O here). One server span per request, one client
// span per upstream attempt, with OpenTelemetry's GenAI attributes.
#include <memory>
#include <vector>

#include "llmgw/pipeline/pipeline.hpp"
#include "llmgw/tracing/exporter.hpp"
#include "llmgw/tracing/trace_context.hpp"

namespace llmgw::server {

/// The request's spans; `trace` is the request's outgoing traceparent, parsed. The server
/// span's parent is the client's span, when the client sent a valid traceparent.
std::vector<tracing::Span> request_spans(const pipeline::RequestContext& ctx,
                                         const tracing::TraceParent& trace);

std::unique_ptr<pipeline::ResponseTap> make_trace_tap(tracing::Exporter& exporter);

}  // namespace llmgw::server
