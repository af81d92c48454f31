# The libFuzzer targets: tests/fuzz/<name>_fuzz.cpp, corpus in tests/fuzz/corpus/<name>/.
# Read by tests/fuzz/CMakeLists.txt (the targets) and tests/CMakeLists.txt (one ctest test each).
set(CRUNET_FUZZERS safetensors idx cifar list_file model_spec train_config recordio mxnet_params)
