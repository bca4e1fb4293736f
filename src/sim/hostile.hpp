#pragma once
// The hostile-answer fault modes (gzip, empty, wrong_shape, truncated, deep): a normal 200 reply
// rewritten into what a broken or hostile provider sends while claiming success. Knows no wire
// format: each face describes its stream framing in the Reply (wire.hpp).
#include "faults.hpp"
#include "wire.hpp"

namespace llmgw::sim {

bool is_hostile(FaultMode mode);

/// Rewrites `reply`, a 200 answer, for a hostile mode; any other mode leaves it as it is.
void make_hostile(Reply& reply, FaultMode mode, const FaultSpec& spec);

}  // namespace llmgw::sim
