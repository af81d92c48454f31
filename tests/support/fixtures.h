#pragma once
// Golden tensors written by tools/make_fixtures.py (PyTorch) into tests/fixtures/*.safetensors.
#include <map>
#include <string>

#include "crunet/core/tensor.h"

namespace crunet::testing {

// Path of a fixture file by name, e.g. fixture_path("conv2d") -> .../tests/fixtures/conv2d.safetensors
std::string fixture_path(const std::string& name);

}  // namespace crunet::testing
