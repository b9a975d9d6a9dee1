// The build of drop this binary is: its version and the commit it was built from
// ("0.1.0+g1a2b3c4d5e6f"; ".dirty" when built with local changes; the version alone outside a
// git work tree). The operator records it in every OperatorStarted entry, so drop-replay can tell
// a journal recorded by another build, whose decisions may differ from this one's.
#pragma once

namespace drop {

extern const char kBuild[];  // defined in the generated core/build_id.cc (library drop_build)

}  // namespace drop
