#pragma once

namespace crunet {

// The library's version, "MAJOR.MINOR.PATCH".
const char* version();

}  // namespace crunet
