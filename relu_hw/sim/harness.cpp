// SPDX-License-Identifier: Apache-2.0
// Drives a Verilated AXI4-Stream activation (class Vmodel) cycle by cycle, with the cycle rules
// of relu_hw.sim.stimulus, in resumable steps: the model stays loaded while Python hands it
// the next chunk of input beats or handshake patterns and takes the output beats. Built into
// a shared library with the model by relu_hw.sim.verilator and called through ctypes, which
// releases the GIL for the duration of a step.
//
// Defines: RELU_HW_USER (1 when the ports have TUSER), RELU_HW_AXIL (1 when the block has the
// AXI4-Lite slave s_axil_*), VM_TRACE (1 for a traced build).
// vl_user.h is force-included: the model's printing goes to standard error (never into the
// caller's output), and $finish, $stop, $fatal and Verilator's own fatal errors end the run
// with a message instead of ending the process.

#include "Vmodel.h"
#include "Vmodel___024root.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {
// What ends a run from inside the model's evaluation.
struct ModelStop {
    std::string message;
};
// The model's last line of output, for the message of a $fatal.
thread_local std::string last_line;

std::string where(const char* filename, int linenum) {
    return std::string(filename ? filename : "?") + ":" + std::to_string(linenum);
}
}  // namespace

int relu_hw_printf(const char* format, ...) {
    char buffer[1024];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    std::fputs(buffer, stderr);
    std::string text(buffer);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (!text.empty()) last_line = text.substr(text.rfind('\n') == std::string::npos
                                               ? 0 : text.rfind('\n') + 1);
    return n;
}
void vl_finish(const char* filename, int linenum, const char*) {
    throw ModelStop{"$finish at " + where(filename, linenum)};
}
void vl_stop(const char* filename, int linenum, const char*) {
    // $fatal prints its message, then stops: say both.
    std::string message = "$stop or $fatal at " + where(filename, linenum);
    if (last_line.find("%Fatal") != std::string::npos
        || last_line.find("%Error") != std::string::npos)
        message = last_line + " (" + message + ")";
    throw ModelStop{message};
}
void vl_fatal(const char* filename, int linenum, const char*, const char* msg) {
    throw ModelStop{std::string(msg) + " at " + where(filename, linenum)};
}

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
}  // namespace
void Vmodel___024root___eval(Vmodel___024root* vlSelf);  // Verilator's, in Vmodel__*.cpp
namespace {
inline void step(Vmodel& top) { Vmodel___024root___eval(top.rootp); }
#endif

// What relu_hw_step returns: why it stopped.
enum : int64_t { DONE = 0, NEED_INPUT = 1, NEED_PATTERN = 2, OUTPUT_FULL = 3, BUDGET = 4 };
// How a run ended before its time (state[5]).
enum : int64_t { RAN = 0, STALLED = 1, STOPPED = 2 };

// A register write of the run's schedule: for the frame that is the first computed with it.
struct Write {
    int64_t frame, address, data;
};

struct Run {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vmodel> top;
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    uint64_t t = 0;
#endif
    int64_t n = 0, pattern_length = 0, deadline = 0, horizon = 0, watch = 0, max_idle = 0;
    int64_t c = 0, sent = 0, got = 0, cycles = -1, stop = -1;
    int64_t idle_from = 0, ready_while_idle = 0, offered_while_idle = 0, ended = RAN;
    bool offering = false;
    std::string message;
    // The register writes (cycle rules of relu_hw.sim.stimulus): `done` have had their
    // response; one is on the bus while `writing`, its address and data channels pending in
    // `aw` and `w`. `frame` is the frame of the next beat to send, `first` whether it starts
    // one, `frames_started` the frames whose first beat was taken.
    std::vector<Write> writes;
    int64_t done = 0, frame = 0, frames_started = 0, bad_write = -1, bus_waited = 0;
    bool first = true, writing = false, aw = false, w = false, bus_stuck = false;

    void dump() {
#if VM_TRACE
        if (vcd) vcd->dump(t);
        t += 5;
#endif
    }
};

}  // namespace

extern "C" {

// Words per beat of s_axis_tdata (which = 0) and m_axis_tdata (which = 1), so that the caller
// can check its packing against the model it loaded.
__attribute__((visibility("default"))) int64_t relu_hw_tdata_words(int64_t which) {
    VerilatedContext ctx;
    Vmodel top{&ctx};
    return which == 0 ? words_of(top.s_axis_tdata) : words_of(top.m_axis_tdata);
}

// Starts a run of n input beats: creates the model (writing a VCD to vcd_path when it is not
// null, in a traced build) and holds it in reset (aresetn low) for two cycles with both
// handshakes idle. Cycle rules: the source offers a beat only on cycles before `deadline`; the
// patterns cover cycles before `pattern_length`, after which the source is always willing and
// the sink always ready; after the n-th output beat the run watches `watch` more cycles for
// extra beats; it gives up at cycle `horizon`, or after `max_idle` cycles without an output
// beat.
__attribute__((visibility("default"))) void* relu_hw_open(
        int64_t n, int64_t pattern_length, int64_t deadline, int64_t horizon, int64_t watch,
        int64_t max_idle, const char* vcd_path) {
    auto* run = new Run;
    run->max_idle = max_idle;
    run->n = n;
    run->pattern_length = pattern_length;
    run->deadline = deadline;
    run->horizon = horizon;
    run->watch = watch;
    run->ctx = std::make_unique<VerilatedContext>();
#if VM_TRACE
    run->ctx->traceEverOn(vcd_path != nullptr);
#endif
    run->top = std::make_unique<Vmodel>(run->ctx.get());
    Vmodel& top = *run->top;
#if VM_TRACE
    if (vcd_path) {
        run->vcd = std::make_unique<VerilatedVcdC>();
        top.trace(run->vcd.get(), 99);
        run->vcd->open(vcd_path);
    }
#else
    (void)vcd_path;
#endif
    top.aclk = 0;
    top.aresetn = 0;
    top.s_axis_tvalid = 0;
    top.m_axis_tready = 0;
    top.eval();
    for (int k = 0; k < 2; ++k) {
        top.aclk = 1; top.eval(); run->dump();
        top.aclk = 0; top.eval(); run->dump();
    }
    top.aresetn = 1;
    return run;
}

// Gives the run its register writes: count of them, each with the frame that is the first
// computed with it, its byte address and its data, in frame order.
__attribute__((visibility("default"))) void relu_hw_writes(
        void* handle, int64_t count, const int64_t* frames, const int64_t* addresses,
        const int64_t* data) {
    auto* run = static_cast<Run*>(handle);
    run->writes.clear();
    for (int64_t i = 0; i < count; ++i) run->writes.push_back({frames[i], addresses[i], data[i]});
}

// Why a run ended before its time (after relu_hw_step said STOPPED), or "".
__attribute__((visibility("default"))) const char* relu_hw_message(void* handle) {
    return static_cast<Run*>(handle)->message.c_str();
}

// Runs cycles until the run is done, needs something from the caller, or has run max_cycles
// cycles, and says which.
// Input beats in_start .. in_start + in_count - 1 are given (beat k at in_data[(k - in_start)
// * words], in_last, in_user); the cycle each is taken on goes to in_cycle. Patterns are given
// for cycles pat_start .. pat_start + pat_count - 1. Output beats go to out_* (at most
// out_cap; out_count receives how many). state receives {next cycle, input beats taken,
// output beats seen, cycles until the n-th output beat inclusive (or -1), timed out (0/1),
// how the run ended (RAN, STALLED, STOPPED), cycles the sink was ready since the last output
// beat, the cycle after the last output beat, cycles the source offered a beat since then}.
__attribute__((visibility("default"))) int64_t relu_hw_step(
        void* handle,
        const uint32_t* in_data, const uint8_t* in_last, const uint64_t* in_user,
        int64_t* in_cycle, int64_t in_start, int64_t in_count,
        const uint8_t* vpat, const uint8_t* rpat, int64_t pat_start, int64_t pat_count,
        uint32_t* out_data, uint8_t* out_last, uint64_t* out_user, int64_t* out_cycle,
        int64_t out_cap, int64_t max_cycles, int64_t* out_count, int64_t* state) {
    Run& run = *static_cast<Run*>(handle);
    Vmodel& top = *run.top;
    const int64_t in_words = words_of(top.s_axis_tdata);
    const int64_t out_words = words_of(top.m_axis_tdata);
    // The run's state in locals, which stay in registers across the model's evaluations.
    const int64_t n = run.n, deadline = run.deadline, horizon = run.horizon;
    const int64_t pattern_length = run.pattern_length;
    const int64_t in_end = in_start + in_count, pat_end = pat_start + pat_count;
    const int64_t budget_end = run.c + max_cycles;
    int64_t c = run.c, sent = run.sent, got = run.got, stop = run.stop;
    int64_t idle_from = run.idle_from, ready_while_idle = run.ready_while_idle;
    int64_t offered_while_idle = run.offered_while_idle;
    const int64_t max_idle = run.max_idle;
    bool offering = run.offering;
    int64_t produced = 0, why = DONE;
    const int64_t writes = static_cast<int64_t>(run.writes.size());
    try {
        for (;; ++c) {
            if (c == budget_end) {
                why = BUDGET;
                break;
            }
            if ((stop >= 0 && c >= stop) || c >= horizon) {
                why = DONE;
                break;
            }
            if (c - idle_from >= max_idle && got < n) {
                run.ended = STALLED;
                why = DONE;
                break;
            }
            bool valid = true, ready = true;
            if (c < pattern_length) {
                if (c < pat_start || c >= pat_end) {
                    why = NEED_PATTERN;
                    break;
                }
                valid = vpat[c - pat_start];
                ready = rpat[c - pat_start];
            }
            bool may_offer = true;
#if RELU_HW_AXIL
            // A write starts once the previous one has its response and the first beat of
            // the frame before its own has been taken; no beat of a frame goes before its
            // writes are done.
            if (!run.writing && run.done < writes) {
                const Write& next = run.writes[run.done];
                if (next.frame == 0 || run.frames_started >= next.frame) {
                    top.s_axil_awaddr = next.address;
                    top.s_axil_wdata = next.data;
                    top.s_axil_wstrb = 0xF;
                    run.writing = run.aw = run.w = true;
                    run.bus_waited = 0;
                }
            }
            top.s_axil_awvalid = run.aw;
            top.s_axil_wvalid = run.w;
            top.s_axil_arvalid = 0;
            top.s_axil_bready = 1;
            top.s_axil_rready = 1;
            may_offer = run.done == writes || run.writes[run.done].frame > run.frame;
#endif
            const bool load = !offering && sent < n && c < deadline && valid && may_offer;
            if (load && (sent < in_start || sent >= in_end)) {
                why = NEED_INPUT;
                break;
            }
            if (produced == out_cap) {
                why = OUTPUT_FULL;
                break;
            }
            // Inputs for cycle c; the falling edge of the previous cycle is evaluated with
            // them.
            if (load) {
                const int64_t k = sent - in_start;
                put(top.s_axis_tdata, in_data + k * in_words);
                top.s_axis_tlast = in_last[k];
#if RELU_HW_USER
                top.s_axis_tuser = in_user[k];
#else
                (void)in_user;
#endif
                offering = true;
            }
            top.s_axis_tvalid = offering;
            top.m_axis_tready = ready;
            step(top);
            run.dump();
            // Sample the handshakes just before the rising edge.
            if (offering && top.s_axis_tready) {
                in_cycle[sent - in_start] = c;
                run.frames_started += run.first;
                run.first = in_last[sent - in_start] != 0;
                run.frame += run.first;
                ++sent;
                offering = false;
            }
#if RELU_HW_AXIL
            if (run.writing) {
                if (run.aw && top.s_axil_awready) run.aw = false;
                if (run.w && top.s_axil_wready) run.w = false;
                if (!run.aw && !run.w && top.s_axil_bvalid) {
                    if (top.s_axil_bresp != 0 && run.bad_write < 0) run.bad_write = run.done;
                    ++run.done;
                    run.writing = false;
                } else if (++run.bus_waited > 1000) {
                    run.bus_stuck = true;
                }
            }
#endif
            ready_while_idle += ready;
            offered_while_idle += top.s_axis_tvalid;
            if (ready && top.m_axis_tvalid) {
                get(top.m_axis_tdata, out_data + produced * out_words);
                out_last[produced] = top.m_axis_tlast;
#if RELU_HW_USER
                out_user[produced] = top.m_axis_tuser;
#else
                out_user[produced] = 0;
#endif
                out_cycle[produced] = c;
                ++produced;
                idle_from = c + 1;
                ready_while_idle = offered_while_idle = 0;
                if (++got == n) {
                    run.cycles = c + 1;
                    stop = c + 1 + run.watch;
                }
            }
            top.aclk = 1;
            step(top);
            run.dump();
            top.aclk = 0;
        }
    } catch (const ModelStop& e) {
        run.ended = STOPPED;
        run.message = e.message;
        why = DONE;
    }
    run.c = c;
    run.sent = sent;
    run.got = got;
    run.stop = stop;
    run.offering = offering;
    run.idle_from = idle_from;
    run.ready_while_idle = ready_while_idle;
    run.offered_while_idle = offered_while_idle;
    *out_count = produced;
    state[0] = c;
    state[1] = sent;
    state[2] = got;
    state[3] = run.cycles;
    state[4] = got < n && c >= horizon;
    state[5] = run.ended;
    state[6] = ready_while_idle;
    state[7] = idle_from;
    state[8] = offered_while_idle;
    state[9] = run.done;
    state[10] = run.bad_write;
    state[11] = run.bus_stuck;
    return why;
}

// After a run: one register transaction on the idle stream (no beat offered, the sink
// ready), once any write of the run still on the bus has finished. A write when `write` is
// non-zero, else a read; result receives {response (-1 if none came in `timeout` cycles),
// data read}.
__attribute__((visibility("default"))) void relu_hw_bus(
        void* handle, int64_t write, int64_t address, int64_t data, int64_t timeout,
        int64_t* result) {
    Run& run = *static_cast<Run*>(handle);
    result[0] = -1;
    result[1] = 0;
#if RELU_HW_AXIL
    Vmodel& top = *run.top;
    bool aw = run.writing && run.aw, w = run.writing && run.w, ar = false;
    bool finishing = run.writing;       // the run's last write first, if it is still going
    bool started = false;
    try {
        for (int64_t k = 0; k < timeout; ++k) {
            if (!finishing && !started) {
                if (write) {
                    top.s_axil_awaddr = address;
                    top.s_axil_wdata = data;
                    top.s_axil_wstrb = 0xF;
                    aw = w = true;
                } else {
                    top.s_axil_araddr = address;
                    ar = true;
                }
                started = true;
            }
            top.s_axis_tvalid = 0;
            top.m_axis_tready = 1;
            top.s_axil_awvalid = aw;
            top.s_axil_wvalid = w;
            top.s_axil_arvalid = ar;
            top.s_axil_bready = 1;
            top.s_axil_rready = 1;
            step(top);
            run.dump();
            bool finished = false;
            if (aw && top.s_axil_awready) aw = false;
            if (w && top.s_axil_wready) w = false;
            if (ar && top.s_axil_arready) ar = false;
            if ((finishing || write) && !aw && !w && top.s_axil_bvalid) {
                finished = true;
                if (!finishing) result[0] = top.s_axil_bresp;
            } else if (!finishing && !write && !ar && top.s_axil_rvalid) {
                finished = true;
                result[0] = top.s_axil_rresp;
                result[1] = top.s_axil_rdata;
            }
            top.aclk = 1;
            step(top);
            run.dump();
            top.aclk = 0;
            if (finished) {
                if (!finishing) return;
                finishing = run.writing = false;
            }
        }
    } catch (const ModelStop& e) {
        run.message = e.message;
    }
#else
    (void)run; (void)write; (void)address; (void)data; (void)timeout;
#endif
}

// Ends a run and frees it.
__attribute__((visibility("default"))) void relu_hw_close(void* handle) {
    auto* run = static_cast<Run*>(handle);
#if VM_TRACE
    if (run->vcd) run->vcd->close();
#endif
    try {
        run->top->final();
    } catch (const ModelStop&) {
        // A $finish in a final block: the run has ended anyway.
    }
    delete run;
}

}  // extern "C"
