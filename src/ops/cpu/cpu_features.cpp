#include "crunet/ops/cpu_features.h"

#if CRUNET_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace crunet::ops {

CpuBf16Support cpu_bf16_support() {
  CpuBf16Support support;
#if CRUNET_WITH_ONEDNN
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx:
      support = {true, true, "avx512_core_amx", ""};
      break;
    case dnnl::cpu_isa::avx512_core_bf16:
      support = {true, false, "avx512_core_bf16", ""};
      break;
    case dnnl::cpu_isa::avx512_core_vnni: support.isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core: support.isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx2_vnni: support.isa = "avx2_vnni"; break;
    case dnnl::cpu_isa::avx2: support.isa = "avx2"; break;
    default: support.isa = "older than avx2"; break;
  }
  if (!support.bf16) {
    support.missing = "the CPU's instruction set as oneDNN uses it is " + support.isa +
                      ", without the avx512_bf16 or amx_bf16 feature";
  }
#else
  support.isa = "none (built without oneDNN)";
  support.missing = "this build has no oneDNN (the CPU's bfloat16 path needs it)";
#endif
  return support;
}

}  // namespace crunet::ops
