// SPDX-License-Identifier: Apache-2.0
// Force-included (-include) into every translation unit of a model and of Verilator's runtime:
// the model's printing ($display) and its stops ($finish, $stop, $fatal, a loop that does not
// converge) go to hooks that harness.cpp defines, not to the process's standard output and
// exit.
#pragma once
int relu_hw_printf(const char* format, ...);
#define VL_PRINTF relu_hw_printf
#define VL_USER_FINISH 1
#define VL_USER_STOP 1
#define VL_USER_FATAL 1
