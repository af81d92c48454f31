#pragma once
// What the CPU this process runs on can do for bfloat16, as the CPU backend will use it: read from
// oneDNN's effective instruction set at run time (never decided at build time), so that
// ONEDNN_MAX_CPU_ISA=AVX512_CORE, say, makes a machine with AMX behave as one without.
//
//   bf16: bfloat16 convolutions, batch norm and pooling run with native instructions
//         (AVX-512 BF16, or AMX) - what train.precision: bf16 needs on the CPU.
//   amx:  the bfloat16 matrix products run on AMX tiles, several times the float32 rate; where
//         only AVX-512 BF16 exists they are about as fast as float32, so precision `auto` picks
//         bfloat16 only with AMX.
#include <string>

namespace crunet::ops {

struct CpuBf16Support {
  bool bf16 = false;
  bool amx = false;
  std::string isa;      // oneDNN's name of the instruction set it uses, e.g. "avx512_core_amx"
  std::string missing;  // empty when bf16 is true, else what the CPU lacks, for error messages
};

CpuBf16Support cpu_bf16_support();

}  // namespace crunet::ops
