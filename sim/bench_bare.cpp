// SPDX-License-Identifier: Apache-2.0
// The ceiling for the Verilator backend: a bare C++ loop over a Verilated AXI4-Stream block
// (class Vmodel) with random valid and ready, the same two evaluations per cycle as
// relu_hw/sim/harness.cpp, and no checking, no Python and no stimulus beyond a buffer of
// random words. Built and run by sim/bench_verilator.py, with relu_hw/sim on the include
// path.
//
// Usage: bench_bare CYCLES PROBABILITY
// Prints: cycles, beats out, seconds.

// The harness's own helpers (TDATA words, the evaluation step), so that the loop evaluates
// exactly as a checked run does.
#include "harness.cpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
inline uint64_t next(uint64_t& s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CYCLES PROBABILITY\n", argv[0]);
        return 2;
    }
    const int64_t cycles = std::atoll(argv[1]);
    const double p = std::atof(argv[2]);
    const uint64_t threshold = static_cast<uint64_t>(p * 18446744073709551615.0);
    VerilatedContext ctx;
    Vmodel top{&ctx};
    const int64_t words = words_of(top.s_axis_tdata);
    // Random input words, reused in turn: 4096 beats.
    uint64_t s = 88172645463325252ull;
    std::vector<uint32_t> data(4096 * words);
    for (auto& w : data) w = static_cast<uint32_t>(next(s));

    top.aclk = 0;
    top.aresetn = 0;
    top.s_axis_tvalid = 0;
    top.m_axis_tready = 0;
    top.eval();
    for (int k = 0; k < 2; ++k) {
        top.aclk = 1; top.eval();
        top.aclk = 0; top.eval();
    }
    top.aresetn = 1;

    int64_t sent = 0, got = 0;
    bool offering = false;
    uint64_t sink = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t c = 0; c < cycles; ++c) {
        const bool valid = next(s) < threshold, ready = next(s) < threshold;
        if (!offering && valid) {
            put(top.s_axis_tdata, &data[(sent & 4095) * words]);
            top.s_axis_tlast = sent & 1;
            offering = true;
        }
        top.s_axis_tvalid = offering;
        top.m_axis_tready = ready;
        step(top);
        if (offering && top.s_axis_tready) {
            ++sent;
            offering = false;
        }
        if (ready && top.m_axis_tvalid) {
            ++got;
            sink += top.m_axis_tlast;
        }
        top.aclk = 1;
        step(top);
        top.aclk = 0;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    top.final();
    std::printf("%lld %lld %.6f %llu\n", static_cast<long long>(cycles),
                static_cast<long long>(got), seconds, static_cast<unsigned long long>(sink));
    return 0;
}
