// SPDX-License-Identifier: Apache-2.0
// Drives a Verilated AXI4-Stream activation (class Vmodel) from arrays, cycle by cycle, with
// exactly the cycle semantics of relu_hw.simulate.run_amaranth. Built into a shared library
// with the model by relu_hw.verilator and called through ctypes.
//
// Defines: RELU_HW_USER (1 when the ports have TUSER), VM_TRACE (1 for a traced build).

#include "Vmodel.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>

namespace {

// TDATA travels as little-endian 32-bit words, ceil(bits / 32) per beat, whatever C++ type
// Verilator chose for the port (CData, SData, IData, QData or VlWide<N>).
template <typename T> inline void put(T& port, const uint32_t* w) {
    if constexpr (sizeof(T) > 4)
        port = static_cast<T>(w[0]) | (static_cast<T>(w[1]) << 32);
    else
        port = static_cast<T>(w[0]);
}
template <std::size_t N> inline void put(VlWide<N>& port, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <typename T> inline void get(const T& port, uint32_t* w) {
    w[0] = static_cast<uint32_t>(port);
    if constexpr (sizeof(T) > 4) w[1] = static_cast<uint32_t>(static_cast<uint64_t>(port) >> 32);
}
template <std::size_t N> inline void get(const VlWide<N>& port, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}
template <typename T> constexpr int64_t words_of(const T&) { return sizeof(T) > 4 ? 2 : 1; }
template <std::size_t N> constexpr int64_t words_of(const VlWide<N>&) { return N; }

// Within a run, evaluate the model through its root evaluation function: Vmodel::eval()
// adds a mutex round trip (garbage collection of dynamic objects, which these designs have
// none of) and an end-of-eval message check (for threaded models) on every call, which is a
// large part of the cost of a small design. The first evaluation is a full eval(), which also
// initialises the model. Traced builds use eval() throughout.
#if VM_TRACE
inline void step(Vmodel& top) { top.eval(); }
#else
inline void step(Vmodel& top) { Vmodel___024root___eval(top.rootp); }
#endif

}  // namespace

extern "C" {

// Words per beat of s_axis_tdata (which = 0) and m_axis_tdata (which = 1), so that the caller
// can check its packing against the model it loaded.
__attribute__((visibility("default"))) int64_t relu_hw_tdata_words(int64_t which) {
    VerilatedContext ctx;
    Vmodel top{&ctx};
    return which == 0 ? words_of(top.s_axis_tdata) : words_of(top.m_axis_tdata);
}

// Runs n input beats through the model. Input beat k is in_data[k * in_words ...], in_last[k],
// in_user[k]. On cycle c the source offers its next beat if c >= vlen or vpat[c] and holds it
// until taken; the sink is ready if c >= rlen or rpat[c]. Reset (aresetn low) comes first.
// Output beats are stored up to cap; stats receives {output beats seen (may exceed cap),
// cycles until the n-th output beat inclusive, timed out (0/1)}. Returns 0.
__attribute__((visibility("default"))) int64_t relu_hw_run(
        int64_t n, const uint32_t* in_data, const uint8_t* in_last, const uint64_t* in_user,
        int64_t vlen, const uint8_t* vpat, int64_t rlen, const uint8_t* rpat,
        int64_t latency, int64_t cap, uint32_t* out_data, uint8_t* out_last,
        uint64_t* out_user, int64_t* out_cycle, int64_t* in_cycle, int64_t* stats,
        const char* vcd_path) {
    auto ctx = std::make_unique<VerilatedContext>();
#if VM_TRACE
    ctx->traceEverOn(vcd_path != nullptr);
#endif
    auto top = std::make_unique<Vmodel>(ctx.get());
    const int64_t in_words = words_of(top->s_axis_tdata);
    const int64_t out_words = words_of(top->m_axis_tdata);
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (vcd_path) {
        vcd = std::make_unique<VerilatedVcdC>();
        top->trace(vcd.get(), 99);
        vcd->open(vcd_path);
    }
    uint64_t t = 0;
    auto dump = [&]() { if (vcd) vcd->dump(t); t += 5; };
#else
    auto dump = []() {};
#endif

    // Synchronous active-low reset for two cycles with both handshakes idle.
    top->aclk = 0;
    top->aresetn = 0;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    top->eval();
    for (int k = 0; k < 2; ++k) {
        top->aclk = 1; top->eval(); dump();
        top->aclk = 0; top->eval(); dump();
    }
    top->aresetn = 1;

    for (int64_t k = 0; k < n; ++k) in_cycle[k] = -1;
    const int64_t deadline = (vlen > rlen ? vlen : rlen) + n + latency + 16;
    const int64_t horizon = deadline + latency + 4;
    int64_t sent = 0, got = 0, cycles = -1, linger = -1;
    bool offering = false, lingering = false, finished = false;
    for (int64_t c = 0; c < horizon; ++c) {
        // Inputs for cycle c; the falling edge of the previous cycle is evaluated with them.
        if (c < deadline && sent < n) {
            if (!offering && (c >= vlen || vpat[c])) {
                put(top->s_axis_tdata, in_data + sent * in_words);
                top->s_axis_tlast = in_last[sent];
#if RELU_HW_USER
                top->s_axis_tuser = in_user[sent];
#endif
                offering = true;
            }
        }
        top->s_axis_tvalid = offering;
        const bool ready = c >= rlen || rpat[c];
        top->m_axis_tready = ready;
        step(*top);
        dump();
        // Sample the handshakes just before the rising edge.
        if (offering && top->s_axis_tready) {
            in_cycle[sent++] = c;
            offering = false;
        }
        if (ready && top->m_axis_tvalid) {
            if (got < cap) {
                get(top->m_axis_tdata, out_data + got * out_words);
                out_last[got] = top->m_axis_tlast;
#if RELU_HW_USER
                out_user[got] = top->m_axis_tuser;
#endif
                out_cycle[got] = c;
            }
            ++got;
        }
        if (got >= n && !lingering) {
            cycles = c + 1;
            lingering = true;
            linger = latency + 4;
        }
        if (lingering && --linger < 0) {
            finished = true;
            break;
        }
        top->aclk = 1;
        step(*top);
        dump();
        top->aclk = 0;
    }
    if (!finished) cycles = deadline;
    stats[0] = got;
    stats[1] = cycles;
    stats[2] = (!finished && got < n) ? 1 : 0;
#if VM_TRACE
    if (vcd) vcd->close();
#endif
    top->final();
    return 0;
}

}  // extern "C"
