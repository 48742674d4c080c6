# Cross-compiles for 64-bit Arm Linux and runs the results under qemu user-mode emulation, so
# the NEON kernels can be built and tested on an x86-64 machine:
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   cmake --build build-arm64 && ctest --test-dir build-arm64 --output-on-failure
#
# Needs Debian's g++-aarch64-linux-gnu and qemu-user (scripts/ctest-arm64.sh does all this).
# The flags stay those of binding.gyp: the baseline armv8-a, nothing CPU-specific.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(NNE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_CXX_COMPILER ${NNE_CROSS_TRIPLE}-g++)
set(CMAKE_C_COMPILER ${NNE_CROSS_TRIPLE}-gcc)

# ctest runs each test through qemu; -L points it at the target's dynamic loader and libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/${NNE_CROSS_TRIPLE})

set(CMAKE_FIND_ROOT_PATH /usr/${NNE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
